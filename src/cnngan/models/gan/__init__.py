from cnngan.models.gan.module import GAN

__all__ = ["GAN"]
