from cnngan.models.classifier import ImageClassifier

__all__ = ["ImageClassifier"]

from cnngan.models.gan.module import GAN  # noqa: E402

__all__ += ["GAN"]
