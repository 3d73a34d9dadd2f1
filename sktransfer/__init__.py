"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from ._baselines import HOGTransformer, PixelTransformer
from ._domain import DomainAdaptiveClassifier
from ._export import export_weights, load_weights
from ._features import PretrainedFeatureExtractor
from ._finetune import FineTunedClassifier
from ._regressor import FineTunedRegressor
from .inspection import ExplanationDisplay, FeatureSpaceDisplay, TrainingCurveDisplay

__version__ = "0.1.0"

__all__ = [
    "DomainAdaptiveClassifier",
    "ExplanationDisplay",
    "FeatureSpaceDisplay",
    "FineTunedClassifier",
    "FineTunedRegressor",
    "HOGTransformer",
    "PixelTransformer",
    "PretrainedFeatureExtractor",
    "TrainingCurveDisplay",
    "__version__",
    "export_weights",
    "load_weights",
]
