from cnngan.nets.cnn import ConvNet
from cnngan.nets.resnet import ResNet

__all__ = ["ConvNet", "ResNet"]
