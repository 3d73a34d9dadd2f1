"""Classical image baselines as scikit-learn transformers: HOG and raw pixels (LBP: ``_lbp``).

They take the same inputs as every other sktransfer estimator (numpy arrays,
flattened arrays with ``input_shape``, tensors, PIL lists, file paths) through
:func:`sktransfer.images.as_image_set`, so a baseline and a pretrained
backbone can be compared on exactly the same ``X``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._tensors import to_float_images
from ..images import as_image_set, check_n_features_in, record_n_features_in

__all__ = ["HOGTransformer", "PixelTransformer"]

_CHANNELS = {"gray": 1, "rgb": 3}
_CHUNK = 256  # images per joblib task / resize batch


def _iter_arrays(images, batch_size, size, channels):
    """Yield float32 numpy batches ``(B, H, W, C)`` in [0, 1] of an ImageSet, resized on CPU.

    What the classical pipelines (HOG, raw pixels) work on: numpy arrays, channels last.
    """
    for batch in images.iter_batches(batch_size):
        x = to_float_images(batch, size, channels=channels)
        yield x.permute(0, 2, 3, 1).numpy()


def _check_n_jobs(n_jobs):
    """Refuse ``n_jobs=0`` (and non-ints) up front: joblib would only fail at transform time."""
    if n_jobs is None or (isinstance(n_jobs, Integral) and not isinstance(n_jobs, bool) and n_jobs != 0):
        return
    raise ValueError(
        f"n_jobs={n_jobs!r} is not a number of workers: use None or 1 for one process, a positive int for "
        "that many workers, or -1 for all processors (-2 for all but one)."
    )


def _pair(value, name):
    """An int or a pair of ints -> a tuple of two positive ints."""
    pair = (value, value) if isinstance(value, Integral) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints; got {value!r}. "
            f"Pass e.g. {name}=8 or {name}=(8, 8)."
        )
    return tuple(int(v) for v in pair)


class _ImageTransformerBase(TransformerMixin, BaseEstimator):
    """Shared plumbing: image size, n_features_in_ and fitted-state checks."""

    def _fit_images(self, X):
        """Validate ``X`` and return ``(images, size)``; sets nothing, so a failed refit keeps the old fit."""
        images = as_image_set(X, input_shape=self.input_shape)
        if self.image_size is not None:
            size = _pair(self.image_size, "image_size")
        elif images.image_shape is not None:
            size = tuple(int(s) for s in images.image_shape)
        else:
            # Paths, or a list of images of different sizes: take the first
            # image's size; every other image is resized to it.
            first = images.load([0])
            first = first[0] if isinstance(first, list) else first
            size = tuple(int(s) for s in first.shape[-2:])
        return images, size

    def _set_fitted(self, X, size, color, n_features_out):
        """Store what :meth:`transform` uses, all at once and only after every check passed.

        ``transform`` reads these fitted attributes, never the parameters, so
        ``set_params(...)`` after ``fit`` changes nothing until the next fit.
        """
        record_n_features_in(self, X)
        self.image_size_ = size
        self.color_ = color
        self.input_shape_ = None if self.input_shape is None else tuple(int(s) for s in self.input_shape)
        self._n_features_out = n_features_out

    def _transform_images(self, X):
        check_is_fitted(self, "image_size_")
        check_n_features_in(self, X)
        return as_image_set(X, input_shape=self.input_shape_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class HOGTransformer(_ImageTransformerBase):
    """Histogram of Oriented Gradients features, via :func:`skimage.feature.hog`.

    Each image is resized (with antialiasing) to ``image_size``, converted to
    gray (or kept in colour), and described by histograms of gradient
    orientations in small cells, normalised over blocks of cells (Dalal and
    Triggs, 2005). Together with an SVM this is the classical baseline a
    pretrained backbone has to beat.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins.
    pixels_per_cell : int or tuple of int, default=(8, 8)
        Size ``(rows, cols)`` of a cell in pixels (after resizing).
    cells_per_block : int or tuple of int, default=(2, 2)
        Number of cells in each block that histograms are normalised over.
        (2, 2) is Dalal and Triggs' setting and fits small images; skimage's
        own default is (3, 3).
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation method.
    transform_sqrt : bool, default=False
        Apply power-law (gamma) compression before computing gradients.
    color : {"gray", "rgb"}, default="gray"
        "gray" averages the colour channels and computes HOG on one channel.
        "rgb" computes gradients on all three channels and keeps, at each
        pixel, the channel with the largest gradient (skimage's
        ``channel_axis=-1``); gray images are repeated to three channels.
        The number of features is the same either way.
    image_size : int, tuple of int or None, default=None
        ``(H, W)`` every image is resized to before HOG. None keeps the size
        of the images seen in :meth:`fit` (the first image's size when sizes
        differ); images of another size are resized to it in
        :meth:`transform`, so the number of features never changes.
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array, e.g. ``(8, 8)`` for scikit-learn's digits.
    n_jobs : int or None, default=None
        Number of joblib workers computing HOG in parallel over chunks of
        images; None means 1 unless in a ``joblib.parallel_backend`` context,
        -1 means all processors. Results do not depend on it. 0 is an
        error (in :meth:`fit` already, not only when joblib meets it).

    Attributes
    ----------
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    hog_params_ : dict
        The :func:`skimage.feature.hog` settings fixed by :meth:`fit`
        (``orientations``, ``pixels_per_cell``, ``cells_per_block``,
        ``block_norm``, ``transform_sqrt``).
    color_ : str
        The ``color`` fixed by :meth:`fit`.
    input_shape_ : tuple of int or None
        The ``input_shape`` fixed by :meth:`fit`.
    n_features_in_ : int
        Only set when ``X`` in :meth:`fit` is a flattened 2-D array (or a
        list of its rows): its number of columns.

    See Also
    --------
    PixelTransformer : raw resized pixels, the simplest baseline.
    PretrainedFeatureExtractor : features from a pretrained backbone.

    Notes
    -----
    Nothing is learnt from ``X`` in :meth:`fit`: it fixes the image size and
    checks that the images are large enough for ``pixels_per_cell`` and
    ``cells_per_block``. Pixel values are read through the shared image layer,
    so float inputs are quantised to 256 levels like every other input.

    :meth:`transform` uses what :meth:`fit` fixed (the fitted attributes
    below), so ``set_params`` after ``fit`` takes effect at the next ``fit``,
    as for any scikit-learn estimator; only ``n_jobs`` is read at transform
    time, since it changes the speed and never the features.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from sktransfer import HOGTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> hog = HOGTransformer(pixels_per_cell=4, image_size=16, input_shape=(8, 8))
    >>> hog.fit_transform(X[:5] / 16.0).shape
    (5, 324)
    >>> clf = make_pipeline(hog, SVC()).fit(X[:500] / 16.0, y[:500])
    >>> round(clf.score(X[500:] / 16.0, y[500:]), 2) > 0.9
    True
    """

    _parameter_constraints = {
        "orientations": [Interval(Integral, 1, None, closed="left")],
        "pixels_per_cell": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "cells_per_block": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "block_norm": [StrOptions({"L1", "L1-sqrt", "L2", "L2-Hys"})],
        "transform_sqrt": ["boolean"],
        "color": [StrOptions(set(_CHANNELS))],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "input_shape": [tuple, list, None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        *,
        transform_sqrt=False,
        color="gray",
        image_size=None,
        input_shape=None,
        n_jobs=None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.color = color
        self.image_size = image_size
        self.input_shape = input_shape
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Fix the image size and check it suits the cell and block settings.

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : None
            Ignored.

        Returns
        -------
        self : HOGTransformer
        """
        self._validate_params()
        _check_n_jobs(self.n_jobs)
        ppc = _pair(self.pixels_per_cell, "pixels_per_cell")
        cpb = _pair(self.cells_per_block, "cells_per_block")
        _, size = self._fit_images(X)
        cells = (size[0] // ppc[0], size[1] // ppc[1])
        if cells[0] < cpb[0] or cells[1] < cpb[1]:
            need = (cpb[0] * ppc[0], cpb[1] * ppc[1])
            small_cell = (max(1, size[0] // cpb[0]), max(1, size[1] // cpb[1]))
            raise ValueError(
                f"HOGTransformer: images of {size[0]}x{size[1]} pixels hold only "
                f"{cells[0]}x{cells[1]} cells of pixels_per_cell={ppc}, but "
                f"cells_per_block={cpb} needs at least {cpb[0]}x{cpb[1]} cells, i.e. images of "
                f"{need[0]}x{need[1]} pixels. Fix: set image_size={max(need)} or larger "
                f"(images are resized), or use smaller cells such as pixels_per_cell={small_cell}, "
                f"or cells_per_block=1."
            )
        grid = (cells[0] - cpb[0] + 1, cells[1] - cpb[1] + 1, cpb[0], cpb[1], self.orientations)
        self.hog_params_ = dict(
            orientations=int(self.orientations),
            pixels_per_cell=ppc,
            cells_per_block=cpb,
            block_norm=self.block_norm,
            transform_sqrt=bool(self.transform_sqrt),
        )
        self._grid = grid
        self._set_fitted(X, size, self.color, int(np.prod(grid)))
        return self

    def transform(self, X):
        """Compute HOG features for ``X``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_images, n_features), dtype float32
        """
        images = self._transform_images(X)
        # n_jobs is read now, not fitted: it changes the speed, never the features.
        _check_n_jobs(self.n_jobs)
        kwargs = dict(self.hog_params_)
        batches = _iter_arrays(images, _CHUNK, self.image_size_, channels=_CHANNELS[self.color_])
        # The generator is consumed lazily (pre_dispatch), so memory stays bounded.
        parts = Parallel(n_jobs=self.n_jobs)(delayed(_hog_chunk)(batch, kwargs) for batch in batches)
        out = np.concatenate(parts).astype(np.float32, copy=False)
        return out.reshape(len(images), self._n_features_out)

    def get_feature_names_out(self, input_features=None):
        """Names ``hog_b{row}_{col}_c{row}_{col}_o{bin}``: block, cell in block, orientation bin.

        Parameters
        ----------
        input_features : None
            Ignored; images have no input feature names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "image_size_")
        br, bc, cr, cc, o = self._grid
        names = [
            f"hog_b{i}_{j}_c{k}_{m}_o{n}"
            for i in range(br)
            for j in range(bc)
            for k in range(cr)
            for m in range(cc)
            for n in range(o)
        ]
        return np.asarray(names, dtype=object)


def _hog_chunk(batch, kwargs):
    """HOG of a (B, H, W, C) float32 chunk, one image at a time (skimage has no batch API)."""
    from skimage.feature import hog

    channel_axis = -1 if batch.shape[-1] == 3 else None
    images = batch if channel_axis is not None else batch[..., 0]
    return np.stack([hog(image, feature_vector=True, channel_axis=channel_axis, **kwargs) for image in images])


class PixelTransformer(_ImageTransformerBase):
    """Raw pixels: resize (with antialiasing) and flatten to floats in [0, 1].

    The simplest baseline: ``make_pipeline(PixelTransformer(16), SVC())`` is
    "pixels + SVM" on any input sktransfer accepts, file paths included.

    Parameters
    ----------
    image_size : int, tuple of int or None, default=None
        ``(H, W)`` every image is resized to. None keeps the size of the
        images seen in :meth:`fit` (the first image's size when sizes
        differ); images of another size are resized to it in
        :meth:`transform`.
    color : {"gray", "rgb"}, default="gray"
        "gray" averages the colour channels (one value per pixel); "rgb"
        keeps three values per pixel, repeating gray images.
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array, e.g. ``(8, 8)`` for scikit-learn's digits.

    Attributes
    ----------
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    color_ : str
        The ``color`` fixed by :meth:`fit`.
    input_shape_ : tuple of int or None
        The ``input_shape`` fixed by :meth:`fit`.
    n_features_in_ : int
        Only set when ``X`` in :meth:`fit` is a flattened 2-D array (or a
        list of its rows): its number of columns.

    See Also
    --------
    HOGTransformer : gradient-orientation features.

    Notes
    -----
    Features are ordered row by row, then column, then channel (channels
    last); pixels are quantised to 256 levels by the image layer, so
    ``PixelTransformer`` on uint8 images of the fitted size returns exactly
    ``X / 255`` flattened. :meth:`transform` uses what :meth:`fit` fixed (the
    fitted attributes), so ``set_params`` after ``fit`` takes effect at the
    next ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from sktransfer import PixelTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> PixelTransformer(image_size=16, input_shape=(8, 8)).fit_transform(X[:3] / 16.0).shape
    (3, 256)
    >>> clf = make_pipeline(PixelTransformer(input_shape=(8, 8)), SVC()).fit(X[:500] / 16.0, y[:500])
    >>> round(clf.score(X[500:] / 16.0, y[500:]), 2) > 0.9
    True
    """

    _parameter_constraints = {
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "color": [StrOptions(set(_CHANNELS))],
        "input_shape": [tuple, list, None],
    }

    def __init__(self, image_size=None, *, color="gray", input_shape=None):
        self.image_size = image_size
        self.color = color
        self.input_shape = input_shape

    def fit(self, X, y=None):
        """Fix the image size.

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : None
            Ignored.

        Returns
        -------
        self : PixelTransformer
        """
        self._validate_params()
        _, size = self._fit_images(X)
        self._set_fitted(X, size, self.color, size[0] * size[1] * _CHANNELS[self.color])
        return self

    def transform(self, X):
        """Resize and flatten ``X``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        pixels : ndarray of shape (n_images, H * W * channels), dtype float32
            Values in [0, 1].
        """
        images = self._transform_images(X)
        batches = _iter_arrays(images, _CHUNK, self.image_size_, channels=_CHANNELS[self.color_])
        return np.concatenate([batch.reshape(len(batch), -1) for batch in batches])

    def get_feature_names_out(self, input_features=None):
        """Names ``pixel_{row}_{col}`` (gray) or ``pixel_{row}_{col}_{r|g|b}`` (rgb).

        Parameters
        ----------
        input_features : None
            Ignored; images have no input feature names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "image_size_")
        h, w = self.image_size_
        suffixes = [""] if self.color_ == "gray" else ["_r", "_g", "_b"]
        names = [f"pixel_{i}_{j}{s}" for i in range(h) for j in range(w) for s in suffixes]
        return np.asarray(names, dtype=object)
