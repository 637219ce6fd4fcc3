from cnngan.nets.cnn import ConvNet
from cnngan.nets.resnet import ResNet

__all__ = ["ConvNet", "ResNet"]

from cnngan.nets.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from cnngan.nets.gan_mlp import MLPDiscriminator, MLPGenerator  # noqa: E402

__all__ += ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
