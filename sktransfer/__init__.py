"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from ._features import PretrainedFeatureExtractor
from ._finetune import FineTunedClassifier

__version__ = "0.1.0"

__all__ = ["FineTunedClassifier", "PretrainedFeatureExtractor", "__version__"]
