"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from ._features import PretrainedFeatureExtractor

__version__ = "0.1.0"

__all__ = ["PretrainedFeatureExtractor", "__version__"]
