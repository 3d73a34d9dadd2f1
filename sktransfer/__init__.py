"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from ._baselines import HOGTransformer, PixelTransformer
from ._domain import DomainAdaptiveClassifier
from ._export import export_weights, load_weights
from ._features import PretrainedFeatureExtractor
from ._finetune import FineTunedClassifier
from ._regressor import FineTunedRegressor

__version__ = "0.1.0"

__all__ = [
    "DomainAdaptiveClassifier",
    "FineTunedClassifier",
    "FineTunedRegressor",
    "HOGTransformer",
    "PixelTransformer",
    "PretrainedFeatureExtractor",
    "__version__",
    "export_weights",
    "load_weights",
]

# Inspection (explanations and plots): sktransfer.inspection holds explain and the deletion score too.
from .inspection import ExplanationDisplay, FeatureSpaceDisplay, TrainingCurveDisplay  # noqa: E402

__all__ += ["ExplanationDisplay", "FeatureSpaceDisplay", "TrainingCurveDisplay"]
