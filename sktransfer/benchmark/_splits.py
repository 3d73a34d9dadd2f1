"""The benchmark's splits: a test set per seed, nested training sets per label budget, domain pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from .datasets import Dataset

__all__ = ["Split", "check_test_size", "combine_domains", "iter_splits", "make_split", "training_subset"]


def _test_size_error(y, test_size, where=""):
    """The ValueError of a ``test_size`` that leaves some class without a training or a test image."""
    n, k = len(y), len(np.unique(y))
    n_test = int(np.ceil(test_size * n))  # scikit-learn's rounding in train_test_split
    low, high = k / n, 1 - k / n
    fix = (f"Use a test_size between about {low:.2f} and {high:.2f} (e.g. 0.3)" if low < high
           else "There are too few images: add some, or drop classes")
    return ValueError(
        f"test_size={test_size} (--test-size) leaves {n - n_test} training and {n_test} test image(s) of "
        f"{n}{where}, for {k} classes: every class needs at least one image on each side. {fix}."
    )


def check_test_size(y, test_size, n_source=None, test_mask=None):
    """Raise a ValueError naming the fix when ``test_size`` leaves a class without a training or a test image.

    In domain mode (``n_source``), the source's and the target's images are
    each split with ``test_size``, so both are checked. With a fixed
    ``test_mask`` (the target's rows of it in domain mode), the mask is
    checked instead of ``test_size``: see :func:`make_split`.

    Examples
    --------
    >>> from sktransfer.benchmark._splits import check_test_size
    >>> check_test_size([0, 0, 0, 1, 1, 1], 0.5)
    >>> check_test_size([0, 0, 0, 1, 1, 1], 0.9)
    Traceback (most recent call last):
    ...
    ValueError: test_size=0.9 (--test-size) leaves 0 training and 6 test image(s) of 6, for 2 classes: ...
    """
    y = np.asarray(y)
    if n_source is None:
        make_split(y, test_size, seed=0, test_mask=test_mask)
        return
    make_split(y[:n_source], test_size, seed=0, where=" in the source")
    make_split(y[n_source:], test_size, seed=0, where=" in the target",
               test_mask=None if test_mask is None else np.asarray(test_mask)[n_source:])


def make_split(y, test_size, seed, where="", test_mask=None):
    """The test set of a seed and the shuffled training pool of each class.

    Returns ``test`` (indices, stratified, ``test_size`` of every class) and
    ``per_class``: for each class in ``np.unique(y)`` order, that class's
    remaining indices in a seed-determined random order. A ``test_size``
    that leaves a class without a training or a test image is a
    ``ValueError`` naming the fix (``where`` says which images, e.g. " in
    the target"). With ``test_mask`` (a bool per image: a dataset's fixed
    test set), the test set is the masked images whatever the seed and
    ``test_size`` is not used; the seed only shuffles the pools.

    Examples
    --------
    >>> from sktransfer.benchmark.runner import make_split
    >>> test, per_class = make_split([0, 0, 0, 0, 1, 1, 1, 1], 0.5, seed=0)
    >>> len(test), [len(idx) for idx in per_class]
    (4, [2, 2])
    >>> test, per_class = make_split([0, 0, 0, 1, 1, 1], None, seed=0, test_mask=[0, 0, 1, 0, 0, 1])
    >>> test.tolist(), sorted(per_class[1].tolist())
    ([2, 5], [3, 4])
    """
    y = np.asarray(y)
    if test_mask is not None:
        return _fixed_split(y, test_mask, seed, where)
    try:
        pool, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    except ValueError as exc:  # too few images on one side for every class to be there
        raise _test_size_error(y, test_size, where) from exc
    rng = np.random.RandomState(seed)
    per_class = [rng.permutation(pool[y[pool] == c]) for c in np.unique(y)]
    if min(map(len, per_class)) == 0 or len(np.unique(y[test])) < len(per_class):
        raise _test_size_error(y, test_size, where)  # a class nobody could learn, or never tested
    return np.sort(test), per_class


def _fixed_split(y, test_mask, seed, where):
    """:func:`make_split` of a fixed test set: the masked images, and the others shuffled by ``seed``."""
    mask = np.asarray(test_mask)
    if mask.shape != y.shape or mask.dtype.kind not in "bui" or not np.isin(mask, (0, 1)).all():
        raise ValueError(f"test_mask{where} must hold one bool per image, shape {y.shape}; got {mask.dtype} of "
                         f"shape {mask.shape}. Pass a boolean array marking the test images, or None.")
    mask = mask.astype(bool)
    test, pool = np.flatnonzero(mask), np.flatnonzero(~mask)
    classes = np.unique(y)
    lacking = [f"{c!r} ({side})" for c in classes.tolist() for side, idx in (("training", pool), ("test", test))
               if not np.any(y[idx] == c)]
    if lacking:
        raise ValueError(f"The fixed test set{where} leaves class(es) without images: {', '.join(lacking)}. Every "
                         "class needs at least one test image and one training image: mark some of each as test.")
    rng = np.random.RandomState(seed)
    return test, [rng.permutation(pool[y[pool] == c]) for c in classes]


def training_subset(per_class, size):
    """The first ``size`` images of every class's pool ("all": the whole pool); nested across sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark.runner import training_subset
    >>> per_class = [np.array([4, 0, 2]), np.array([5, 1, 3])]
    >>> training_subset(per_class, 1), training_subset(per_class, "all")
    (array([4, 5]), array([4, 0, 2, 5, 1, 3]))
    """
    take = None if size == "all" else size
    return np.concatenate([idx[:take] for idx in per_class])


def combine_domains(source, target):
    """One :class:`Dataset` of the source's images followed by the target's, and the number of source images.

    Gray images become RGB when the other domain is in colour; arrays of one
    size are stacked, else the images are listed. The target's fixed test set
    (``test_mask``) is kept; the source's fixed test images are left out (a
    source is only trained on).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark import Dataset
    >>> from sktransfer.benchmark.runner import combine_domains
    >>> gray = Dataset("gray", np.zeros((4, 8, 8), np.float32), np.array([0, 1, 0, 1]), "gray", (8, 8), 1)
    >>> colour = Dataset("colour", np.ones((2, 8, 8, 3), np.float32), np.array([1, 0]), "colour", (8, 8), 3)
    >>> both, n_source = combine_domains(gray, colour)
    >>> both.name, both.X.shape, both.y.tolist(), n_source
    ('gray-to-colour', (6, 8, 8, 3), [0, 1, 0, 1, 1, 0], 4)
    """
    def images(ds, channels):
        X = ds.X
        if isinstance(X, np.ndarray):
            X = _as_float_images(X, ds.name)
            if channels == 3 and X.ndim == 3:
                X = np.repeat(X[..., None], 3, axis=-1)
        return X

    if source.test_mask is not None:
        keep = np.flatnonzero(~np.asarray(source.test_mask, dtype=bool))
        source = Dataset(source.name, source.take(keep), np.asarray(source.y)[keep], source.description,
                         source.image_shape, source.channels)
    channels = max(source.channels, target.channels)
    X_s, X_t = images(source, channels), images(target, channels)
    if isinstance(X_s, np.ndarray) and isinstance(X_t, np.ndarray) and X_s.shape[1:] == X_t.shape[1:]:
        X = np.concatenate([X_s, X_t])
    else:
        X = list(X_s) + list(X_t)
    labels = np.concatenate([np.asarray(source.y, dtype=object), np.asarray(target.y, dtype=object)])
    if labels.dtype == object and all(isinstance(v, (int, np.integer)) for v in labels):
        labels = labels.astype(np.int64)
    unknown = np.setdiff1d(np.unique(target.y), np.unique(source.y))
    if len(unknown):
        raise ValueError(f"the target domain has classes the source lacks ({unknown.tolist()[:5]}): a classifier "
                         "trained on the source cannot predict them. Use datasets with the same classes.")
    desc = f"{source.description} -> {target.description}"
    test_mask = None if target.test_mask is None else np.concatenate(
        [np.zeros(len(source), dtype=bool), np.asarray(target.test_mask, dtype=bool)])
    combined = Dataset(f"{source.name}-to-{target.name}", X, labels, desc, source.image_shape, channels, test_mask)
    return combined, len(source)


def _as_float_images(X, name):
    """Images as float32 in [0, 1], read as :func:`~sktransfer.images.as_image_set` reads them: uint16 pixels
    0..65535, other integers 0..255, floats already in [0, 1]."""
    if X.dtype.kind not in "iu":
        return X.astype(np.float32)
    if X.dtype == np.uint16:
        return X.astype(np.float32) / 65535.0
    low, high = (int(X.min()), int(X.max())) if X.size else (0, 0)
    if low < 0 or high > 255:
        raise ValueError(
            f"Dataset {name!r}: integer images ({X.dtype}) must hold pixels 0..255; found {low}..{high}. "
            "Save them as uint8 (X.astype(np.uint8) when they are 0..255), or as floats in [0, 1] (e.g. X / X.max())."
        )
    return X.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Split:
    """One run's images, as indices into the dataset.

    Attributes
    ----------
    seed : int
        The seed that drew the test set and shuffled the pools.
    size : int or "all"
        Labelled training images per class.
    train : ndarray of int
        The labelled training images.
    test : ndarray of int
        The test images, the same for every method and size of this seed.
    pool : ndarray of int
        The unlabelled images a method may learn from: the rest of the
        training pool, or in domain mode the target's images outside the test set.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark._splits import Split
    >>> split = Split(0, 1, train=np.array([0, 2]), test=np.array([1, 3]), pool=np.array([], int))
    >>> split.where(n_seeds=3, method="hog")
    'seed 1/3 | 1 labels/class (n=2) | hog'
    """

    seed: int
    size: object
    train: np.ndarray
    test: np.ndarray
    pool: np.ndarray

    def where(self, n_seeds, method):
        """The progress line's name for this run of ``method``."""
        return f"seed {self.seed + 1}/{n_seeds} | {self.size} labels/class (n={len(self.train)}) | {method}"


def iter_splits(ds, sizes, n_seeds, test_size, n_source=None):
    """Every run's :class:`Split`: seeds 0 .. n_seeds-1, and for each the label budgets, smallest first.

    A seed draws its test set and shuffles each class's pool once (with
    :func:`make_split`); its training sets are the first ``size`` images of
    each class's pool, so they are nested. Sizes that reach the whole pool of
    every class become ``"all"`` (once). With ``n_source`` (domain mode: the
    first ``n_source`` images of ``ds`` are the source's, see
    :func:`combine_domains`), the test set and the unlabelled pool are the
    target's, split with :func:`make_split` on the target's labels, and the
    labelled pool is the source's: two domains with the same labels in the
    same order get the same split, so no test image is a training image of
    the other domain. A dataset's fixed test set (``ds.test_mask``, the
    target's in domain mode) is every seed's test set; ``test_size`` then
    only splits the source.

    Examples
    --------
    >>> from sktransfer.benchmark import load_dataset
    >>> from sktransfer.benchmark._splits import iter_splits
    >>> ds = load_dataset("digits")
    >>> [(s.seed, s.size, len(s.train), len(s.pool)) for s in iter_splits(ds, [5, 1000], 2, 0.3)]
    [(0, 5, 50, 1207), (0, 'all', 1257, 0), (1, 5, 50, 1207), (1, 'all', 1257, 0)]
    """
    mask = getattr(ds, "test_mask", None)
    for seed in range(n_seeds):
        if n_source is None:
            test, per_class = make_split(ds.y, test_size, seed, test_mask=mask)
            target_pool = None
        else:
            target_mask = None if mask is None else np.asarray(mask)[n_source:]
            test, target_pool = make_split(ds.y[n_source:], test_size, seed, " in the target", target_mask)
            test, target_pool = test + n_source, np.sort(np.concatenate(target_pool)) + n_source
            _, per_class = make_split(ds.y[:n_source], test_size, seed, " in the source")
        largest = max(len(idx) for idx in per_class)
        for size in dict.fromkeys("all" if s == "all" or s >= largest else s for s in sizes):
            train = training_subset(per_class, size)
            pool = target_pool if target_pool is not None else np.setdiff1d(training_subset(per_class, "all"), train)
            yield Split(seed, size, train, test, pool)
