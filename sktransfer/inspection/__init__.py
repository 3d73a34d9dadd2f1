"""Inspection: what a fitted network looks at (exact CAM, Grad-CAM, saliency; integrated gradients over a
text's tokens), whether the maps mean it
(a deletion score, a pointing score), and plots in scikit-learn's ``Display`` style (matplotlib: ``sktransfer[plot]``)."""

from ._control import patch_images
from ._deletion import deletion_curve, deletion_score
from ._explain import explain
from ._explanation_display import ExplanationDisplay
from ._feature_space import FeatureSpaceDisplay
from ._pointing import pointing_score
from ._text_display import TextExplanationDisplay
from ._training_curve import TrainingCurveDisplay

__all__ = ["ExplanationDisplay", "FeatureSpaceDisplay", "TextExplanationDisplay", "TrainingCurveDisplay",
           "deletion_curve", "deletion_score", "explain", "patch_images", "pointing_score"]
