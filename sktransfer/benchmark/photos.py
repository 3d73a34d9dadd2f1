"""Photograph, texture and face tasks made offline, from images the packages ship.

The photo and texture tasks ask which shipped image a random crop comes from.

No labelled photograph dataset of real size ships with the packages, so the
photo task is built from the eight colour photographs of
:data:`~sktransfer.benchmark.domains.PHOTOGRAPHS` (scikit-image's and
scikit-learn's), and the texture task from scikit-image's three gray texture
photographs (:data:`TEXTURE_CLASSES`). Each image is cut in two halves across
its longer side: training crops come from one half, test crops from the
other, so no test crop shares a pixel with a training crop. A crop is a
random square (a random scale: half to all of the half's shorter side),
resized to ``size`` and turned by a random quarter turn. The benchmark's
datasets ``"photos"``, ``"textures"`` (both with a fixed test set: the crops
of the test halves) and ``"faces"`` (scikit-image's ``lfw_subset``) are
loaded here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import skimage.data
from skimage.transform import resize
from sklearn.utils import check_random_state

from .domains import PHOTOGRAPHS, photographs

__all__ = ["PHOTO_CLASSES", "TEXTURE_CLASSES", "load_faces_dataset", "load_photos_dataset", "load_textures_dataset",
           "photo_crops", "texture_crops", "textures"]

#: The class names of :func:`photo_crops`: the photographs' names, without file extensions.
PHOTO_CLASSES = tuple(name.split(".")[0] for name in PHOTOGRAPHS)
#: The class names of :func:`texture_crops`: scikit-image's texture photographs (``skimage.data.brick`` ...),
#: all it ships without a download.
TEXTURE_CLASSES = ("brick", "grass", "gravel")


@lru_cache(maxsize=1)
def textures():
    """The :data:`TEXTURE_CLASSES` as a tuple of read-only ``(512, 512)`` uint8 gray arrays.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import textures
    >>> [t.shape for t in textures()]
    [(512, 512), (512, 512), (512, 512)]
    """
    images = []
    for name in TEXTURE_CLASSES:
        image = np.ascontiguousarray(getattr(skimage.data, name)(), dtype=np.uint8)
        image.flags.writeable = False
        images.append(image)
    return tuple(images)


def _half(photo, part):
    """The first or second half of ``photo`` across its longer side."""
    h, w = photo.shape[:2]
    if w >= h:
        return photo[:, : w // 2] if part == "train" else photo[:, w // 2:]
    return photo[: h // 2] if part == "train" else photo[h // 2:]


def _crops(images, names, n_per_class, part, size, random_state):
    """``n_per_class`` random crops of each image's ``part`` half, float32 in [0, 1], and their class names."""
    if part not in ("train", "test"):
        raise ValueError(f"part={part!r} is not 'train' or 'test'.")
    n_per_class, size = int(n_per_class), int(size)
    if n_per_class < 1 or size < 8:
        raise ValueError(f"n_per_class ({n_per_class}) must be >= 1 and size ({size}) >= 8.")
    rng = check_random_state(random_state)
    X = np.empty((len(names) * n_per_class, size, size, *images[0].shape[2:]), dtype=np.float32)
    for c, image in enumerate(images):
        region = _half(image, part)
        h, w = region.shape[:2]
        for i in range(n_per_class):
            side = int(rng.uniform(0.5, 1.0) * min(h, w))
            top, left = rng.randint(h - side + 1), rng.randint(w - side + 1)
            crop = resize(region[top:top + side, left:left + side], (size, size), anti_aliasing=True)
            X[c * n_per_class + i] = np.rot90(crop, k=rng.randint(4))
    return X, np.repeat(np.asarray(names), n_per_class)


def photo_crops(n_per_class, part="train", *, size=160, random_state=None):
    """``n_per_class`` random crops of each photograph's ``part`` half: ``(X, y)``.

    Parameters
    ----------
    n_per_class : int
        Crops per photograph (class).
    part : {"train", "test"}, default="train"
        Which half of each photograph the crops come from; the halves share no pixel.
    size : int, default=160
        Side of the square output crops, in pixels.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (8 * n_per_class, size, size, 3), float32 in [0, 1]
    y : ndarray of shape (8 * n_per_class,)
        Class names from :data:`PHOTO_CLASSES`, in blocks of ``n_per_class``.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import photo_crops
    >>> X, y = photo_crops(2, "test", size=32, random_state=0)
    >>> X.shape, X.dtype, y[:3].tolist()
    ((16, 32, 32, 3), dtype('float32'), ['astronaut', 'astronaut', 'chelsea'])
    """
    return _crops(photographs(), PHOTO_CLASSES, n_per_class, part, size, random_state)


def texture_crops(n_per_class, part="train", *, size=64, random_state=None):
    """``n_per_class`` random crops of each texture photograph's ``part`` half: ``(X, y)``, gray.

    The same crops as :func:`photo_crops` (random scale, position and
    quarter turn; the halves share no pixel), of :func:`textures`.

    Parameters
    ----------
    n_per_class : int
        Crops per texture (class).
    part : {"train", "test"}, default="train"
        Which half of each texture the crops come from.
    size : int, default=64
        Side of the square output crops, in pixels.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (3 * n_per_class, size, size), float32 in [0, 1]
    y : ndarray of shape (3 * n_per_class,)
        Class names from :data:`TEXTURE_CLASSES`, in blocks of ``n_per_class``.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import texture_crops
    >>> X, y = texture_crops(2, "test", size=32, random_state=0)
    >>> X.shape, X.dtype, y.tolist()
    ((6, 32, 32), dtype('float32'), ['brick', 'brick', 'grass', 'grass', 'gravel', 'gravel'])
    """
    return _crops(textures(), TEXTURE_CLASSES, n_per_class, part, size, random_state)


#: Crops per class of ``"photos"`` and ``"textures"``: the training pool, and the fixed test set.
PHOTOS_PER_CLASS, TEXTURES_PER_CLASS = (60, 30), (100, 50)
_PHOTO_SIZE, _TEXTURE_SIZE = 160, 64


@lru_cache(maxsize=2)
def _fixed_task(crops, per_class, size):
    """A crop task's ``(X uint8, y, test_mask)``: the training halves' crops, then the test halves'; seed 0."""
    rng = np.random.RandomState(0)
    (X_train, y_train), (X_test, y_test) = (crops(n, part, size=size, random_state=rng)
                                            for n, part in zip(per_class, ("train", "test")))
    X = np.round(np.concatenate([X_train, X_test]) * 255).astype(np.uint8)
    return X, np.concatenate([y_train, y_test]), np.arange(len(X)) >= len(X_train)


def _crop_dataset(name, crops, per_class, size, what):
    from .datasets import Dataset  # datasets imports this module: its loaders are built-in datasets

    X, y, test_mask = _fixed_task(crops, per_class, size)
    k, channels = len(np.unique(y)), 3 if X.ndim == 4 else 1
    desc = (f"{what}: {len(y)} crops, {size}x{size} {'RGB' if channels == 3 else 'gray'}, {k} classes; "
            f"{per_class[0]} per class from one half of each image, a fixed test set of {per_class[1]} per "
            "class from the other half")
    return Dataset(name, X.copy(), y.copy(), desc, (size, size), channels, test_mask=test_mask.copy())


def load_photos_dataset():
    """``"photos"``: which of the 8 shipped colour photographs a crop comes from, 160x160 RGB, a fixed test set.

    60 crops per class of :func:`photo_crops` from each photograph's
    training half (the pool the label budgets draw from), then 30 per class
    from its test half: ``test_mask`` marks them, the test set of every seed.
    The crops are the same every time (seed 0) and stored as uint8.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import load_photos_dataset
    >>> ds = load_photos_dataset()
    >>> ds.X.shape, ds.X.dtype, ds.channels, int(ds.test_mask.sum()), str(ds.y[0])
    ((720, 160, 160, 3), dtype('uint8'), 3, 240, 'astronaut')
    """
    return _crop_dataset("photos", photo_crops, PHOTOS_PER_CLASS, _PHOTO_SIZE,
                         "crops of 8 colour photographs (scikit-image, scikit-learn)")


def load_textures_dataset():
    """``"textures"``: which of scikit-image's 3 texture photographs a crop comes from, 64x64 gray, a fixed test set.

    100 crops per class of :func:`texture_crops` from each texture's training
    half, then 50 per class from its test half (``test_mask``); seed 0, uint8.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import load_textures_dataset
    >>> ds = load_textures_dataset()
    >>> ds.X.shape, ds.classes.tolist(), int(ds.test_mask.sum())
    ((450, 64, 64), ['brick', 'grass', 'gravel'], 150)
    """
    return _crop_dataset("textures", texture_crops, TEXTURES_PER_CLASS, _TEXTURE_SIZE,
                         "crops of scikit-image's brick, grass and gravel textures")


def load_faces_dataset():
    """``"faces"``: scikit-image's ``lfw_subset()``, 100 faces and 100 non-faces, 25x25 gray; a random test set.

    Labels are ``"face"`` (the first 100 images, from Labeled Faces in the
    Wild) and ``"non-face"``; the benchmark draws each seed's test set.

    Examples
    --------
    >>> from sktransfer.benchmark.photos import load_faces_dataset
    >>> ds = load_faces_dataset()
    >>> ds.X.shape, ds.X.dtype, ds.classes.tolist(), ds.test_mask is None
    ((200, 25, 25), dtype('float32'), ['face', 'non-face'], True)
    """
    from .datasets import Dataset  # datasets imports this module: its loaders are built-in datasets

    X = skimage.data.lfw_subset().astype(np.float32)
    y = np.where(np.arange(len(X)) < 100, "face", "non-face")
    desc = "faces (scikit-image lfw_subset): 200 images, 25x25 gray, face or non-face"
    return Dataset("faces", X, y, desc, (25, 25), 1)
