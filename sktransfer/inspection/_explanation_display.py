"""ExplanationDisplay: images next to their heat maps, with predicted and true labels."""

from __future__ import annotations

import numpy as np

from ..images import as_image_set
from ._explain import explain
from ._plotting import as_display_images, axes_grid, check_true_labels

__all__ = ["ExplanationDisplay"]


class ExplanationDisplay:
    """Images and their explanation maps in a grid: each image, then the map over it.

    Build it with :meth:`from_estimator`; the constructor takes computed
    values, as scikit-learn's displays do.

    Parameters
    ----------
    images : list of ndarray
        ``(H, W)`` or ``(H, W, 3)`` uint8 images.
    maps : ndarray of shape (n_images, H, W) or list of ndarray
        Maps in [0, 1] at the images' resolution.
    prediction : array-like of shape (n_images,)
        The predicted label (or value) shown over each map.
    probability : array-like of shape (n_images,) or None, default=None
        The explained class's probability, shown when finite.
    y_true : array-like of shape (n_images,) or None, default=None
        True labels, shown when given.
    target : array-like of shape (n_images,) or None, default=None
        The explained class, shown when it differs from the prediction.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : ndarray of matplotlib Axes
        Shape (rows, 2 * images per row): image, map, image, map, ...
    overlays_ : list of matplotlib AxesImage
        The heat maps drawn over the images.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.inspection import ExplanationDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0,
    ...                           augment=None, tta=0, input_shape=(8, 8), verbose=0).fit(X[:60] / 16, y[:60])
    >>> display = ExplanationDisplay.from_estimator(clf, X[:4] / 16, y[:4], n_cols=2)
    >>> display.ax_.shape, len(display.overlays_)
    ((2, 4), 4)
    """

    def __init__(self, images, maps, prediction, probability=None, y_true=None, target=None):
        self.images = images
        self.maps = maps
        self.prediction = prediction
        self.probability = probability
        self.y_true = y_true
        self.target = target

    def plot(self, ax=None, *, n_cols=4, alpha=0.5, cmap="jet"):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, array-like of Axes or None, default=None
            None: a new figure. One Axes: its area is divided into the grid.
            Otherwise exactly two Axes per image (image, then map).
        n_cols : int, default=4
            Images per row (each takes two panels).
        alpha : float, default=0.5
            Opacity of the heat map over the image.
        cmap : str, default="jet"
            Colour map of the heat map.

        Returns
        -------
        display : ExplanationDisplay
        """
        n = len(self.images)
        if len(self.maps) != n or len(self.prediction) != n:
            raise ValueError(f"images, maps and prediction must have one entry per image; got {n}, "
                             f"{len(self.maps)} and {len(self.prediction)}.")
        fig, axes = axes_grid(ax, 2 * n, 2 * int(n_cols), "ExplanationDisplay", panel_size=(1.8, 1.9))
        flat = axes.ravel()
        self.overlays_ = []
        for i, (image, heat) in enumerate(zip(self.images, self.maps)):
            gray = dict(cmap="gray", vmin=0, vmax=255) if image.ndim == 2 else {}
            left, right = flat[2 * i], flat[2 * i + 1]
            left.imshow(image, **gray)
            right.imshow(image, **gray)
            self.overlays_.append(right.imshow(heat, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0))
            if self.y_true is not None:
                left.set_title(f"true: {self.y_true[i]}", fontsize=8)
            right.set_title(self._caption(i), fontsize=8)
            for a in (left, right):
                a.set_xticks([])
                a.set_yticks([])
        self.figure_, self.ax_ = fig, axes
        return self

    def _caption(self, i):
        text = f"pred: {_short(self.prediction[i])}"
        if self.probability is not None and np.isfinite(self.probability[i]):
            text += f" ({self.probability[i]:.2f})"
        if self.target is not None and str(self.target[i]) != str(self.prediction[i]):
            text += f"\nmap of: {_short(self.target[i])}"
        return text

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, target=None, method="gradcam", layer="auto", ax=None,
                       n_cols=4, alpha=0.5, cmap="jet"):
        """Explain ``X`` with ``estimator.explain`` and plot the images and their maps.

        Parameters
        ----------
        estimator : fitted FineTunedClassifier, FineTunedRegressor or another BackboneNetworkEstimator
        X : images
            A handful of images (each takes two panels).
        y : array-like of shape (n_images,) or None, default=None
            True labels to show.
        target, method, layer
            As in :func:`~sktransfer.inspection.explain`.
        ax, n_cols, alpha, cmap
            As in :meth:`plot`.

        Returns
        -------
        display : ExplanationDisplay
        """
        images = as_image_set(X, input_shape=getattr(estimator, "input_shape", None))
        y = check_true_labels(y, len(images), "image")
        result = explain(estimator, X, target, method=method, layer=layer)
        display = cls(as_display_images(images), result.maps, result.prediction, result.probability, y,
                      result.target)
        return display.plot(ax=ax, n_cols=n_cols, alpha=alpha, cmap=cmap)


def _short(value):
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)
