"""sktransfer: transfer learning as ordinary scikit-learn estimators."""

from .estimators import (DistilledClassifier, DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor,
                         HOGTransformer, LBPTransformer, PixelTransformer, PretrainedFeatureExtractor,
                         SelfSupervisedPretrainer)
from .deploy import export_onnx
from .export import export_weights, load_weights
from .inspection import ExplanationDisplay, FeatureSpaceDisplay, TextExplanationDisplay, TrainingCurveDisplay
from .ranking import rank_backbones
from .estimators import make_tfidf_classifier

__version__ = "0.1.0"

__all__ = [
    "DistilledClassifier",
    "DomainAdaptiveClassifier",
    "ExplanationDisplay",
    "FeatureSpaceDisplay",
    "FineTunedClassifier",
    "FineTunedRegressor",
    "HOGTransformer",
    "LBPTransformer",
    "PixelTransformer",
    "PretrainedFeatureExtractor",
    "SelfSupervisedPretrainer",
    "TextExplanationDisplay",
    "TrainingCurveDisplay",
    "__version__",
    "export_onnx",
    "export_weights",
    "load_weights",
    "make_tfidf_classifier",
    "rank_backbones",
]
