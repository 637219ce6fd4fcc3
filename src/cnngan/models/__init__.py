from cnngan.models.classifier import ImageClassifier

__all__ = ["ImageClassifier"]
