"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from ._baselines import HOGTransformer, PixelTransformer
from ._features import PretrainedFeatureExtractor
from ._finetune import FineTunedClassifier

__version__ = "0.1.0"

__all__ = [
    "FineTunedClassifier",
    "HOGTransformer",
    "PixelTransformer",
    "PretrainedFeatureExtractor",
    "__version__",
]
