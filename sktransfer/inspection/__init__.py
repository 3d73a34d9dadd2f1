"""Inspection: what a fitted network looks at (Grad-CAM, saliency), whether the maps mean it
(a deletion score), and plots in scikit-learn's ``Display`` style."""

from ._deletion import deletion_curve, deletion_score
from ._explain import explain

__all__ = ["deletion_curve", "deletion_score", "explain"]
