"""Knowledge distillation: a fitted teacher's knowledge in a smaller, faster student network.

Hinton, Vinyals and Dean (2015, "Distilling the Knowledge in a Neural
Network") train the student on the teacher's softened class probabilities;
in their high-temperature limit this is regressing the teacher's logits,
centred per image (Ba and Caruana 2014). That limit is what
:class:`DistilledClassifier` trains: its student is a
:class:`~sktransfer.FineTunedRegressor` on the teacher's centred
log-probabilities, so the whole fine-tuning recipe (probe first, augmentation,
early stopping, runtimes, int8, export) serves the student unchanged.
Unlabelled images (``y == -1``) get the teacher's outputs like the others:
they are where distillation finds most of its training signal.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._inputs import take_rows
from .._validation import as_label_array, unlabeled_mask
from ._classifier import FineTunedClassifier
from ._regressor import FineTunedRegressor

__all__ = ["DistilledClassifier"]

#: Probabilities are clipped here before the logarithm: a teacher's 0 would be an infinite target.
PROBA_FLOOR = 1e-6


class DistilledClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A student network trained to reproduce a teacher classifier's outputs (knowledge distillation).

    ``fit`` fits a clone of ``teacher`` on the labelled images (unless it is
    wrapped in :class:`sklearn.frozen.FrozenEstimator`, i.e. already fitted),
    then fits a clone of ``student`` to regress the teacher's log-probabilities,
    centred per image, on every image, unlabelled ones (``y == -1``)
    included. Predictions are the student's: ``predict_proba`` is the
    softmax of its outputs. Typical students: the teacher's backbone without
    test-time views (``tta=0``, the default: one forward pass instead of
    five), a smaller input size, or a smaller backbone (a Lite2 teacher into
    a Lite0 student).

    Parameters
    ----------
    teacher : classifier, default=None
        Any scikit-learn classifier with ``predict_proba`` (a
        :class:`~sktransfer.FineTunedClassifier`, a ``Pipeline``...); wrap a
        fitted one in ``FrozenEstimator`` to use it as it is. None:
        ``FineTunedClassifier()``.
    student : FineTunedRegressor, default=None
        The network that learns the teacher's outputs (its settings are the
        student's: backbone, ``image_size``, ``runtime``, ``quantize``...).
        None: ``FineTunedRegressor(tta=0)`` on the default backbone.
    temperature : float, default=1.0
        The student's logits are divided by it in ``predict_proba``: 1 keeps
        the teacher's calibration, which the student regresses.

    Attributes
    ----------
    teacher_ : classifier
        The fitted teacher.
    student_ : FineTunedRegressor
        The fitted student; it predicts the teacher's centred log-probabilities.
    classes_ : ndarray of shape (n_classes,)
        The teacher's classes.
    distillation_r2_ : float
        How well the student reproduces the teacher's outputs on the training
        images (R² over the logits).

    See Also
    --------
    FineTunedClassifier : the usual teacher, and ``quantize="int8"`` for another way to a faster model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import DistilledClassifier, FineTunedClassifier, FineTunedRegressor
    >>> X, y = load_digits(return_X_y=True)
    >>> y_fit = np.where(np.arange(150) < 60, y[:150], -1)   # 60 labelled images, 90 unlabelled
    >>> tiny = dict(backbone="timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8), max_epochs=2,
    ...             min_steps=0, verbose=0, random_state=0)
    >>> distilled = DistilledClassifier(FineTunedClassifier(**tiny, tta=2), FineTunedRegressor(**tiny, tta=0))
    >>> distilled.fit(X[:150] / 16, y_fit).predict(X[300:303] / 16).shape
    (3,)
    >>> distilled.predict_proba(X[300:303] / 16).shape
    (3, 10)
    """

    _parameter_constraints = {
        "teacher": [HasMethods(["fit", "predict_proba"]), None],
        "student": [FineTunedRegressor, None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, teacher=None, student=None, *, temperature=1.0):
        self.teacher = teacher
        self.student = student
        self.temperature = temperature

    @_fit_context(prefer_skip_nested_validation=False)  # the teacher and student validate their own
    def fit(self, X, y):
        """Fit the teacher on the labelled images, then the student on the teacher's outputs for all.

        Parameters
        ----------
        X : images
            Any form the teacher and the student take.
        y : array-like of shape (n_images,)
            Class labels; -1 marks an unlabelled image (taught by the teacher only).

        Returns
        -------
        self : DistilledClassifier
        """
        y = np.asarray(as_label_array(y))
        if y.ndim != 1:
            raise ValueError(f"DistilledClassifier takes one label per image (a 1-D y); got shape {y.shape}.")
        unlabeled = unlabeled_mask(y)
        if unlabeled.all():
            raise ValueError("every label is -1 (unlabelled): the teacher needs labelled images to learn from.")
        teacher = clone(FineTunedClassifier() if self.teacher is None else self.teacher)
        if not isinstance(teacher, FrozenEstimator):
            labeled = np.flatnonzero(~unlabeled)
            teacher.fit(take_rows(X, labeled), y[labeled])
        targets = teacher_logits(teacher.predict_proba(X))
        student = clone(FineTunedRegressor(tta=0) if self.student is None else self.student)
        student.fit(X, targets)
        self.teacher_, self.student_, self.classes_ = teacher, student, np.asarray(teacher.classes_)
        self.distillation_r2_ = float(student.score(X, targets))
        return self

    def decision_function(self, X):
        """The student's logits (the teacher's centred log-probabilities, as learnt), ``(n_images, n_classes)``."""
        check_is_fitted(self, "student_")
        return np.asarray(self.student_.predict(X), dtype=np.float64) / self.temperature

    def predict_proba(self, X):
        """Class probabilities: the softmax of :meth:`decision_function`."""
        logits = self.decision_function(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The class of the largest student logit."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True
        return tags


def teacher_logits(proba):
    """Log-probabilities centred per image (the logits up to a constant), float32 ``(n_images, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._distill import teacher_logits
    >>> logits = teacher_logits(np.array([[0.5, 0.5], [0.9, 0.1]]))
    >>> np.round(logits.astype(float), 3).tolist(), bool(np.allclose(logits.sum(axis=1), 0))
    ([[0.0, 0.0], [1.099, -1.099]], True)
    """
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), PROBA_FLOOR, None))
    return (logp - logp.mean(axis=1, keepdims=True)).astype(np.float32)

