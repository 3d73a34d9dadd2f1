"""The estimators: networks over a pretrained backbone, the frozen extractor and the classical baselines.

- ``_base``: what every network-over-a-backbone estimator shares (parameters, ``fit``, prediction,
  pickling), with the task's hooks;
- ``_targets``: how each task encodes ``y`` and turns outputs into predictions (``TargetSpec``);
- ``_classifier``, ``_regressor``, ``_domain``: the tasks; ``_distill``: a student network taught by a teacher;
- ``_pretrain``: :class:`SelfSupervisedPretrainer` (a backbone adapted to unlabelled images);
- ``_features``: :class:`PretrainedFeatureExtractor`; ``_baselines``: HOG and pixels; ``_lbp``: LBP;
  ``_tfidf``: :func:`make_tfidf_classifier`, the text baseline.
"""

from ._base import BackboneNetworkEstimator
from ._baselines import HOGTransformer, PixelTransformer
from ._classifier import SEMI_SUPERVISED_PARAMS, FineTunedClassifier
from ._distill import DistilledClassifier
from ._domain import DomainAdaptiveClassifier
from ._features import PretrainedFeatureExtractor
from ._lbp import LBPTransformer
from ._pretrain import SelfSupervisedPretrainer
from ._regressor import FineTunedRegressor
from ._targets import TargetSpec
from ._tfidf import make_tfidf_classifier

#: Every estimator that trains a network over a backbone (export_weights / load_weights take each).
NETWORK_ESTIMATORS = (FineTunedClassifier, FineTunedRegressor, DomainAdaptiveClassifier)

__all__ = ["NETWORK_ESTIMATORS", "SEMI_SUPERVISED_PARAMS", "BackboneNetworkEstimator", "DistilledClassifier",
           "DomainAdaptiveClassifier", "FineTunedClassifier", "FineTunedRegressor", "HOGTransformer",
           "LBPTransformer", "PixelTransformer", "PretrainedFeatureExtractor", "SelfSupervisedPretrainer", "TargetSpec",
           "make_tfidf_classifier"]
