"""FeatureSpaceDisplay: a 2-D map of the features a backbone gives, coloured by class."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.utils.validation import check_is_fitted

from .._device import on_device, resolve_device
from ..images import as_image_set, check_n_features_in
from ..nn import encode_batches
from ._plotting import require_matplotlib

__all__ = ["FeatureSpaceDisplay"]

EMBEDDINGS = ("pca", "tsne")


class FeatureSpaceDisplay:
    """Images as points of a 2-D embedding (PCA or t-SNE) of their features, one colour per class.

    Parameters
    ----------
    embedding : ndarray of shape (n_images, 2)
    y : array-like of shape (n_images,)
        Class of each point.
    method : {"pca", "tsne"}, default="pca"
        How ``embedding`` was made (for the axis labels).

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
    collections_ : dict
        Class label -> the PathCollection of its points.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> from sktransfer.inspection import FeatureSpaceDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
    ...                                 verbose=0).fit(X[:100] / 16)
    >>> display = FeatureSpaceDisplay.from_estimator(fx, X[:100] / 16, y[:100])
    >>> display.embedding.shape, len(display.collections_)
    ((100, 2), 10)
    """

    def __init__(self, embedding, y, *, method="pca"):
        self.embedding = embedding
        self.y = y
        self.method = method

    def plot(self, ax=None, *, alpha=0.8, s=12):
        """Scatter the embedding, one colour per class, with a legend.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            None: a new figure.
        alpha, s : float
            Opacity and size of the points.

        Returns
        -------
        display : FeatureSpaceDisplay
        """
        plt = require_matplotlib("FeatureSpaceDisplay")
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
        y = np.asarray(self.y)
        self.collections_ = {}
        for label in np.unique(y):
            points = self.embedding[y == label]
            self.collections_[label.item() if hasattr(label, "item") else label] = ax.scatter(
                points[:, 0], points[:, 1], s=s, alpha=alpha, label=str(label))
        name = {"pca": "PC", "tsne": "t-SNE "}[self.method]
        ax.set_xlabel(f"{name}1")
        ax.set_ylabel(f"{name}2")
        ax.legend(title="class", fontsize=7, markerscale=1.5, loc="best")
        self.figure_, self.ax_ = ax.figure, ax
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, method="pca", random_state=None, ax=None, alpha=0.8, s=12):
        """Embed the features a fitted extractor or network gives ``X``, and plot them.

        Parameters
        ----------
        estimator : fitted PretrainedFeatureExtractor, BackboneNetworkEstimator or transformer
            A fine-tuned network gives the pooled features its head reads;
            anything else its ``transform(X)``.
        X : images
        y : array-like of shape (n_images,)
            Class of each image (the colours).
        method : {"pca", "tsne"}, default="pca"
            scikit-learn's PCA, or t-SNE (slower; its perplexity capped below
            the number of images).
        random_state : int or None, default=None
            Seeds t-SNE (and a randomised PCA).
        ax, alpha, s
            As in :meth:`plot`.

        Returns
        -------
        display : FeatureSpaceDisplay
        """
        features = _features(estimator, X)
        return cls.from_features(features, y, method=method, random_state=random_state, ax=ax, alpha=alpha, s=s)

    @classmethod
    def from_features(cls, features, y, *, method="pca", random_state=None, ax=None, alpha=0.8, s=12):
        """Embed precomputed features (e.g. ``extractor.transform(X)``) and plot them.

        Parameters
        ----------
        features : array-like of shape (n_images, n_features)
            Finite numbers (NaN or infinite rows are a ValueError naming them).
        y : array-like of shape (n_images,)
        method, random_state, ax, alpha, s
            As in :meth:`from_estimator`.

        Returns
        -------
        display : FeatureSpaceDisplay
        """
        if method not in EMBEDDINGS:
            raise ValueError(f"method={method!r} is not one of {EMBEDDINGS}.")
        features = _numeric(features)
        y = np.asarray(y)
        if features.ndim != 2 or len(features) < 3 or features.shape[1] < 2:
            raise ValueError(f"features has shape {features.shape}; pass (n_images, n_features) with at least "
                             "3 images and 2 features (a 2-D map needs two directions).")
        bad = ~np.isfinite(features).all(axis=1)
        if bad.any():  # PCA and t-SNE would fail inside, or place those points anywhere
            rows = np.flatnonzero(bad)
            shown = ", ".join(map(str, rows[:5].tolist())) + (", ..." if len(rows) > 5 else "")
            raise ValueError(
                f"features of {len(rows)} image(s) hold NaN or infinite values (rows {shown}), which no embedding "
                "can place. Drop those rows (keep = np.isfinite(features).all(axis=1); features[keep], y[keep]); "
                "if the features came from a model, check that it trained to a finite loss."
            )
        if y.ndim != 1 or len(y) != len(features):
            raise ValueError(f"y has shape {y.shape} for {len(features)} images; pass one class per image.")
        if method == "pca":
            embedding = PCA(n_components=2, random_state=random_state).fit_transform(features)
        else:
            perplexity = min(30.0, (len(features) - 1) / 3)
            embedding = TSNE(n_components=2, perplexity=perplexity, init="pca",
                             random_state=random_state).fit_transform(features)
        return cls(embedding, y, method=method).plot(ax=ax, alpha=alpha, s=s)


def _numeric(features):
    """``features`` as a float64 array, or a ValueError saying what they must be."""
    try:
        return np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"features must be numbers, an (n_images, n_features) array; they cannot be read as "
                         f"floats ({exc}). Pass extractor.transform(X), or np.stack of equal-length vectors.") from exc


def _features(estimator, X):
    if hasattr(estimator, "module_") and hasattr(estimator.module_, "encoder"):
        check_is_fitted(estimator, "module_")
        check_n_features_in(estimator, X)
        images = as_image_set(X, input_shape=estimator.input_shape)
        device = resolve_device(estimator.device)
        with on_device(estimator.module_.encoder, device) as encoder:
            return encode_batches(encoder, images, batch_size=estimator.batch_size, device=device)
    if not hasattr(estimator, "transform"):
        raise TypeError(f"{type(estimator).__name__} has no features to show: pass a fitted "
                        "PretrainedFeatureExtractor, a fine-tuned network, or a transformer.")
    return estimator.transform(X)
