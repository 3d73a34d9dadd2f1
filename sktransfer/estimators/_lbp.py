"""Local binary patterns, the classical texture baseline, as a scikit-learn transformer.

It shares the plumbing of the other classical baselines (``_baselines``): the
same inputs through :func:`sktransfer.images.as_image_set`, the same fitted
state and joblib chunks.
"""

from __future__ import annotations

from math import ceil
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._baselines import _CHUNK, _ImageTransformerBase, _check_n_jobs, _iter_arrays, _pair

__all__ = ["LBPTransformer"]


class LBPTransformer(_ImageTransformerBase):
    """Local binary pattern histograms, the classical texture descriptor, via
    :func:`skimage.feature.local_binary_pattern`.

    Each image is resized (with antialiasing) to ``image_size``, made gray
    (colour channels averaged) and quantised to 256 levels. Every pixel's
    ``n_points`` neighbours on a circle of ``radius`` give its pattern code
    (Ojala, Pietikäinen and Mäenpää, 2002); the features are the histograms
    of the codes in each cell of a ``grid``, one per radius, each summing to
    1. Pixels closer to the border than the largest radius are left out: their
    circles would leave the image. With an SVM, the texture baseline beside
    :class:`HOGTransformer`.

    Parameters
    ----------
    radius : float or sequence of float, default=1
        Radius of the circle of neighbours; several give a multi-scale descriptor.
    n_points : int or sequence of int, default=8
        Neighbours on each circle: one value for every radius, or one per radius.
    method : {"uniform", "nri_uniform"}, default="uniform"
        "uniform": rotation-invariant uniform patterns, ``n_points + 2`` bins;
        "nri_uniform": uniform patterns that keep their rotation,
        ``n_points * (n_points - 1) + 3`` bins.
    grid : int or tuple of int, default=1
        ``(rows, cols)`` of cells with a histogram each; 1 describes the whole image.
    image_size : int, tuple of int or None, default=None
        ``(H, W)`` every image is resized to. None keeps the size of the
        images seen in :meth:`fit` (the first image's when sizes differ).
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened 2-D array.
    n_jobs : int or None, default=None
        joblib workers over chunks of images, read at :meth:`transform` as in
        :class:`HOGTransformer`; results do not depend on it. 0 is an error.

    Attributes
    ----------
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    lbp_params_ : dict
        ``scales`` (``(n_points, radius)`` pairs), ``method`` and ``grid``, fixed by :meth:`fit`.
    input_shape_ : tuple of int or None
        The ``input_shape`` fixed by :meth:`fit`.
    n_features_in_ : int
        Only set when ``X`` in :meth:`fit` is a flattened 2-D array: its number of columns.

    See Also
    --------
    HOGTransformer : gradient-orientation features.
    PixelTransformer : raw resized pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import LBPTransformer
    >>> flat = np.full((1, 16, 16), 0.5)  # no texture: every pixel is the uniform pattern "all ones", code 8
    >>> LBPTransformer().fit_transform(flat).round(2)
    array([[0., 0., 0., 0., 0., 0., 0., 0., 1., 0.]], dtype=float32)
    >>> lbp = LBPTransformer(radius=(1, 2), grid=2).fit(flat)
    >>> lbp.transform(flat).shape, lbp.get_feature_names_out()[0]
    ((1, 80), 'lbp_c0_0_p8_r1_b0')
    """

    _parameter_constraints = {
        "radius": [Interval(Real, 0, None, closed="neither"), tuple, list],
        "n_points": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "method": [StrOptions({"uniform", "nri_uniform"})],
        "grid": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "input_shape": [tuple, list, None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, radius=1, n_points=8, method="uniform", *, grid=1, image_size=None, input_shape=None,
                 n_jobs=None):
        self.radius = radius
        self.n_points = n_points
        self.method = method
        self.grid = grid
        self.image_size = image_size
        self.input_shape = input_shape
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Fix the image size and the scales, and check the grid's cells hold pixels.

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : None
            Ignored.

        Returns
        -------
        self : LBPTransformer
        """
        self._validate_params()
        _check_n_jobs(self.n_jobs)
        scales, grid = _lbp_scales(self.radius, self.n_points), _pair(self.grid, "grid")
        _, size = self._fit_images(X)
        margin = ceil(max(r for _, r in scales))
        inner = (size[0] - 2 * margin, size[1] - 2 * margin)
        if inner[0] < grid[0] or inner[1] < grid[1]:
            raise ValueError(
                f"LBPTransformer: images of {size[0]}x{size[1]} pixels keep {max(inner[0], 0)}x{max(inner[1], 0)} "
                f"pixels once the {margin} border pixel(s) of radius {max(r for _, r in scales):g} are left out, "
                f"too few for grid={grid}. Fix: set image_size={max(grid) + 2 * margin} or larger, or use a "
                "smaller radius or grid.")
        self.lbp_params_ = dict(scales=scales, method=self.method, grid=grid)
        n_bins = sum(_lbp_bins(p, self.method) for p, _ in scales)
        self._set_fitted(X, size, "gray", grid[0] * grid[1] * n_bins)
        return self

    def transform(self, X):
        """Compute the LBP histograms of ``X``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_images, n_features), dtype float32
            Histograms in [0, 1]; each cell's histogram of each radius sums to 1.
        """
        images = self._transform_images(X)
        _check_n_jobs(self.n_jobs)
        batches = _iter_arrays(images, _CHUNK, self.image_size_, channels=1)
        parts = Parallel(n_jobs=self.n_jobs)(delayed(_lbp_chunk)(batch, self.lbp_params_) for batch in batches)
        return np.concatenate(parts).astype(np.float32, copy=False).reshape(len(images), self._n_features_out)

    def get_feature_names_out(self, input_features=None):
        """Names ``lbp_c{row}_{col}_p{n_points}_r{radius}_b{bin}``: cell, scale, pattern code.

        Parameters
        ----------
        input_features : None
            Ignored; images have no input feature names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "image_size_")
        (rows, cols), method = self.lbp_params_["grid"], self.lbp_params_["method"]
        names = [f"lbp_c{i}_{j}_p{p}_r{r:g}_b{b}" for i in range(rows) for j in range(cols)
                 for p, r in self.lbp_params_["scales"] for b in range(_lbp_bins(p, method))]
        return np.asarray(names, dtype=object)


def _lbp_scales(radius, n_points):
    """``((n_points, radius), ...)``, one per radius; a ValueError naming the fix for lengths that disagree."""
    radii = [radius] if isinstance(radius, Real) else list(radius)
    points = [n_points] * len(radii) if isinstance(n_points, Integral) else list(n_points)
    if (not radii or len(points) != len(radii) or not all(isinstance(r, Real) and r > 0 for r in radii)
            or not all(isinstance(p, Integral) and not isinstance(p, bool) and p >= 1 for p in points)):
        raise ValueError(f"radius={radius!r} and n_points={n_points!r}: give positive radii and, for each, a "
                         "positive number of points (one int for all), e.g. radius=(1, 2, 3), n_points=8.")
    return tuple((int(p), float(r)) for p, r in zip(points, radii))


def _lbp_bins(n_points, method):
    """Number of distinct codes of ``method`` with ``n_points`` neighbours."""
    return n_points + 2 if method == "uniform" else n_points * (n_points - 1) + 3


def _lbp_chunk(batch, params):
    """LBP histograms of a (B, H, W, 1) float32 chunk in [0, 1], one image at a time."""
    from skimage.feature import local_binary_pattern

    (rows, cols), method = params["grid"], params["method"]
    margin = ceil(max(r for _, r in params["scales"]))
    h, w = batch.shape[1] - 2 * margin, batch.shape[2] - 2 * margin
    row_of = np.repeat(np.arange(rows), [len(a) for a in np.array_split(np.arange(h), rows)])
    col_of = np.repeat(np.arange(cols), [len(a) for a in np.array_split(np.arange(w), cols)])
    cell = (row_of[:, None] * cols + col_of[None, :]).ravel()
    per_cell = np.bincount(cell, minlength=rows * cols)[:, None]
    out = []
    for image in np.round(batch[..., 0] * 255).astype(np.uint8):  # integer codes: no float ties at equal pixels
        hists = []
        for p, r in params["scales"]:
            codes = local_binary_pattern(image, p, r, method)[margin:margin + h, margin:margin + w]
            n_bins = _lbp_bins(p, method)
            counts = np.bincount(cell * n_bins + codes.astype(np.int64).ravel(), minlength=rows * cols * n_bins)
            hists.append(counts.reshape(rows * cols, n_bins) / per_cell)
        out.append(np.concatenate(hists, axis=1).ravel())
    return np.stack(out)
