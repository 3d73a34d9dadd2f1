"""TrainingCurveDisplay: loss, score and learning rate per epoch, from a fitted network's history."""

from __future__ import annotations

import numpy as np

from ._checks import check_network_estimator
from ._plotting import axes_grid

__all__ = ["TrainingCurveDisplay"]

#: Per-epoch scores the estimators record, as (key without train_/valid_, axis label).
SCORES = (("acc", "accuracy"), ("r2", "R²"))


class TrainingCurveDisplay:
    """Training (and validation) loss, score and learning rate per epoch.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
    train_loss, valid_loss : ndarray of shape (n_epochs,) or None
        NaN where an epoch did not record it.
    train_score, valid_score : ndarray of shape (n_epochs,) or None
    score_name : str or None
        E.g. ``"accuracy"``.
    lr : ndarray of shape (n_epochs,) or None
        The largest learning rate of the optimizer's groups, at each epoch's end.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : ndarray of matplotlib Axes
        One per panel: loss, then score and learning rate when recorded.
    lines_ : dict
        ``"train_loss"``, ``"valid_loss"``, ... -> the Line2D drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.inspection import TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=3, min_steps=0,
    ...                           augment=None, tta=0, validation_fraction=0.2, input_shape=(8, 8),
    ...                           verbose=0).fit(X[:100] / 16, y[:100])
    >>> display = TrainingCurveDisplay.from_estimator(clf)
    >>> display.epochs.tolist(), sorted(display.lines_)
    ([1, 2, 3], ['lr', 'train_loss', 'train_score', 'valid_loss', 'valid_score'])
    """

    def __init__(self, epochs, train_loss, valid_loss=None, train_score=None, valid_score=None, score_name=None,
                 lr=None):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.train_score = train_score
        self.valid_score = valid_score
        self.score_name = score_name
        self.lr = lr

    def plot(self, ax=None):
        """Draw loss, score (when recorded) and learning rate (when recorded), side by side.

        Parameters
        ----------
        ax : matplotlib Axes, array-like of Axes or None, default=None
            None: a new figure; one Axes: its area is divided; or one Axes per panel.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        panels = [("loss", "train_loss", "valid_loss")]
        if _recorded(self.train_score) or _recorded(self.valid_score):
            panels.append((self.score_name or "score", "train_score", "valid_score"))
        if _recorded(self.lr):
            panels.append(("learning rate", "lr", None))
        fig, axes = axes_grid(ax, len(panels), len(panels), "TrainingCurveDisplay", panel_size=(3.6, 3.0))
        self.lines_ = {}
        for a, (label, train, valid) in zip(axes.ravel(), panels):
            for key, style in ((train, "-o"), (valid, "--s")):
                values = None if key is None else getattr(self, key)
                if _recorded(values):
                    name = "" if key == "lr" else key.split("_")[0]
                    (self.lines_[key],) = a.plot(self.epochs, values, style, markersize=3, label=name or None)
            a.set_xlabel("epoch")
            a.set_ylabel(label)
            a.grid(True, alpha=0.3)
            if train != "lr":
                a.legend(fontsize=8)
        self.figure_, self.ax_ = fig, axes.ravel()
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the history of a fitted network (``estimator.history_``).

        Parameters
        ----------
        estimator : fitted FineTunedClassifier, FineTunedRegressor or another BackboneNetworkEstimator
        ax : matplotlib Axes, array-like of Axes or None, default=None

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_network_estimator(estimator, "TrainingCurveDisplay.from_estimator", "a training history (history_)",
                                "history_")
        return cls.from_history(estimator.history_, ax=ax)

    @classmethod
    def from_history(cls, history, *, ax=None):
        """Plot a skorch ``History`` (or a list of per-epoch dicts with ``train_loss`` and the like).

        Parameters
        ----------
        history : skorch.history.History or list of dict
        ax : matplotlib Axes, array-like of Axes or None, default=None

        Returns
        -------
        display : TrainingCurveDisplay
        """
        rows = [dict(row) for row in history]
        if not rows or not any("train_loss" in row for row in rows):
            raise ValueError("history has no 'train_loss' record; pass a fitted network's history_ (a skorch "
                             "History) or a list of per-epoch dicts with 'train_loss'.")

        def column(key):
            values = np.array([row.get(key, np.nan) for row in rows], dtype=np.float64)
            return values if np.isfinite(values).any() else None

        score_key, score_name = next(((k, n) for k, n in SCORES if any(f"train_{k}" in r or f"valid_{k}" in r
                                                                      for r in rows)), (None, None))
        epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)])
        display = cls(epochs, column("train_loss"), column("valid_loss"),
                      column(f"train_{score_key}") if score_key else None,
                      column(f"valid_{score_key}") if score_key else None, score_name, column("lr"))
        return display.plot(ax=ax)


def _recorded(values):
    return values is not None and bool(np.isfinite(values).any())
