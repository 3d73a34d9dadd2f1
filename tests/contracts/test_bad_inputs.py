"""Bad inputs (issues 13 and 21): each one a clear error that names the problem and the fix.

Every case asserts:

- the exception type, raised by sktransfer itself (the innermost frame is in
  ``sktransfer/``, or argparse for the CLI): never a raw traceback from numpy,
  PIL, torch or joblib;
- that the message names the problem (``problem`` regex) and the fix (``fix``
  regex), and, where given, does not say something misleading (``not_in``);
- that the input is unchanged afterwards (arrays, tensors, lists, PIL images,
  and the bytes of every file a path points to);
- that the fitted reference estimators (PixelTransformer, HOGTransformer, on
  flat and on image inputs) still transform a reference batch exactly as
  before.

Adding cases: append a ``pytest.param(Bad(...), id=...)`` row to the table of
the entry point. ``Bad.make(tmp_path)`` builds a fresh X (files go in
``tmp_path``); ``Bad.call(X, fitted)`` is what is run, by default reading
every image of ``as_image_set(X, input_shape=...)``; ``fitted`` holds the
fitted reference estimators, so ``call=lambda X, f: f["hog_flat"].est.transform(X)``
tries X at transform time on a fitted model. Estimator-level cases
(extractor, fine-tuning) belong in ``ESTIMATOR_CASES``; a new fitted reference
estimator goes in the ``fitted`` fixture (``Fitted(est, X, out, "predict")``
for a classifier), and every case then checks it too. CLI cases go in
``CLI_CASES``.

Cases, category -> number (distinct inputs; the estimator-entry rows reuse a
few of the bad inputs through fit/transform of a fitted transformer):

================================================  =====
masked arrays (numpy.ma)                              7
object arrays (numbers, mixed), missing entries      14
scalars and single paths                             12
float range, NaN/inf                                 20
integer range                                         9
dimensions (1-D, 5-D, 6-D)                            8
channels and empty images/X                          16
flattened X and input_shape                          19
dtypes, containers, list items, nested lists         27
paths (folders, missing, FIFOs, devices, links)      14
decompression bombs (9 formats, 2 sizes)             11
PIL images and files with out-of-range values        10
closed PIL images, a single PIL image                 3
tensors: sparse, meta, quantized, float8              4
HOG/Pixel/extractor parameters                        9
estimator entry (fit/transform of fitted models)     12
CLI (--output-dir, bombs, --max-image-pixels)        11
backbone hub caches with a planted pickle             4
------------------------------------------------  -----
total                                               210
================================================  =====

That is 198 distinct bad inputs; the CLI cases run through both entry points
(``sktransfer benchmark`` and ``python -m sktransfer.benchmark``), and one more
test calls ``run_benchmark`` directly: 222 test items.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from sktransfer import HOGTransformer, PixelTransformer
from sktransfer.images import as_image_set

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

SKTRANSFER_DIR = str(Path(__file__).resolve().parents[2] / "sktransfer")


# ----------------------------------------------------------------------------- the checks


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fingerprint(X):
    """A comparable snapshot of X's content (and of the files its paths name)."""
    if isinstance(X, np.ndarray):
        if X.dtype.kind == "O":
            return ("object", X.shape, tuple(repr(x) for x in X.ravel()))
        data = X.data if isinstance(X, np.ma.MaskedArray) else X
        fp = (type(X).__name__, X.dtype.str, X.shape, np.ascontiguousarray(data).tobytes())
        if isinstance(X, np.ma.MaskedArray):
            fp += (np.ma.getmaskarray(X).tobytes(),)
        return fp
    if isinstance(X, torch.Tensor):
        if X.is_meta:
            return ("meta tensor", str(X.dtype), tuple(X.shape))
        values = X.detach()
        values = values.to_dense() if values.layout != torch.strided else values
        values = values.int_repr() if values.is_quantized else values
        raw = values.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
        return ("tensor", str(X.dtype), str(X.layout), tuple(X.shape), raw)
    if isinstance(X, (list, tuple)):
        return (type(X).__name__, tuple(fingerprint(x) for x in X))
    if isinstance(X, (str, os.PathLike)):
        path = os.fspath(X)
        return ("path", path, _digest(path) if os.path.isfile(path) else os.path.isdir(path))
    if isinstance(X, Image.Image):
        try:
            return ("pil", X.mode, X.size, X.tobytes())
        except (ValueError, AssertionError):  # a closed image has no pixels to compare: its state must stay so
            return ("closed pil", X.mode, X.size, getattr(X, "fp", None))
    if type(X).__module__.startswith("pandas"):  # by content: pandas may consolidate its blocks when read
        import pandas as pd

        dtypes = [X.dtype] if hasattr(X, "dtype") else list(X.dtypes)
        return ("pandas", type(X).__name__, tuple(map(str, dtypes)), tuple(map(str, getattr(X, "columns", []))),
                tuple(pd.util.hash_pandas_object(X, index=True)))
    return ("other", type(X).__name__, pickle.dumps(X))


@dataclass(frozen=True)
class Fitted:
    """A fitted reference transformer, the batch it transforms and what it gave."""

    est: object
    X: np.ndarray
    out: np.ndarray
    method: str = "transform"  # "predict" for a classifier

    def apply(self):
        return getattr(self.est, self.method)(self.X)


@pytest.fixture(scope="module")
def fitted():
    """Fitted transformers whose output must never change after a bad input."""
    from skimage import data

    cam = data.camera()
    images = np.stack([cam[r : r + 32, c : c + 32] for r, c in [(100, 100), (200, 250), (300, 50)]])
    flat = np.ascontiguousarray(images[:, ::4, ::4]).reshape(3, 64)
    ests = {
        "pixels": (PixelTransformer(image_size=8), images),
        "hog": (HOGTransformer(pixels_per_cell=8, image_size=32), images),
        "pixels_flat": (PixelTransformer(input_shape=(8, 8)), flat),
        "hog_flat": (HOGTransformer(pixels_per_cell=4, image_size=16, input_shape=(8, 8)), flat),
    }
    return {k: Fitted(est.fit(X), X, est.transform(X)) for k, (est, X) in ests.items()}


def assert_fitted_unchanged(fitted):
    for name, ref in fitted.items():
        np.testing.assert_array_equal(ref.apply(), ref.out, err_msg=f"fitted {name} changed")


def assert_clear(info, problem, fix, not_in=None, raised_in=(SKTRANSFER_DIR,)):
    """The message names the problem and the fix; the error comes from our code, not from deep inside a library."""
    message = str(info.value)
    assert re.search(problem, message, re.S), f"problem {problem!r} not named in: {message}"
    assert re.search(fix, message, re.S), f"fix {fix!r} not named in: {message}"
    if not_in is not None:
        assert not re.search(not_in, message, re.S), f"misleading {not_in!r} in: {message}"
    origin = str(info.traceback[-1].path)
    assert origin.startswith(raised_in), f"raised in {origin}, not by sktransfer: {message}"


# ----------------------------------------------------------------------------- X through the image layer


@dataclass(frozen=True)
class Bad:
    """One bad input: how to build it, what must be raised, and what the message must say."""

    make: Callable  # tmp_path -> X, built fresh for every test
    error: type
    problem: str  # regex: what is wrong
    fix: str  # regex: what to do
    call: Callable | None = None  # (X, fitted) -> anything; None: read every image of as_image_set(X)
    input_shape: object = None
    not_in: str | None = None  # regex the message must not match (a misleading blame)


def read_all(X, input_shape=None):
    """as_image_set, then every batch: errors found only when files are decoded count too."""
    for _ in as_image_set(X, input_shape=input_shape).iter_batches(64):
        pass


def u8(*shape, value=0):
    return np.full(shape, value, dtype=np.uint8)


def masked(data, mask):
    return np.ma.masked_array(data, mask=mask)


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(w, h, bitdepth=8, color=0):
    """A tiny PNG whose header claims w x h pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", w, h, bitdepth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + _chunk(b"IEND", b""))


def ppm_header(w, h, magic=b"P5", maxval=255):
    return magic + b"\n%d %d\n%d\n" % (w, h, maxval) + b"\0" * 16


def bmp_header(w, h):
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + dib + b"\0" * 16


def gif_header(w, h):
    return b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0) + b"," + struct.pack("<HHHHB", 0, 0, w, h, 0) + \
        b"\x02\x02\x44\x01\x00;"


def tiff_header(w, h):
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 8),
               (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", t, ty, c, v) if ty == 4 else struct.pack("<HHIHH", t, ty, c, v, 0)
        for t, ty, c, v in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * 16


def jpeg_header(w, h):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\0" * 16 + b"\xff\xd9"


def write(tmp, name, data):
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def save(tmp, name, image):
    path = tmp / name
    image.save(path)
    return str(path)


def good_png(tmp, name="ok.png"):
    return save(tmp, name, Image.fromarray(u8(8, 8, value=90)))


def with_good(tmp, bad_path):
    """[a readable image, the bad one]: the error must name the bad one, X[1]."""
    return [good_png(tmp), bad_path]


def bomb(name, data):
    """A decompression bomb case: the file named, PIL.Image.MAX_IMAGE_PIXELS said."""
    return Bad(lambda tmp: with_good(tmp, write(tmp, name, data)), ValueError,
               rf"{re.escape(name)}'? \(X\[1\]\) is too large to open safely",
               r"PIL\.Image\.MAX_IMAGE_PIXELS = None")


def fifo(tmp):
    path = tmp / "pipe"
    os.mkfifo(path)
    return str(path)


def broken_link(tmp):
    path = tmp / "link.png"
    os.symlink(tmp / "gone.png", path)
    return str(path)


def closed_after_with(tmp):
    """What `with Image.open(path) as img: ...` leaves once the block is left before the pixels were read."""
    with Image.open(good_png(tmp)) as img:
        pass
    return img


def closed_by_close():
    img = Image.new("L", (8, 8), 40)
    img.load()
    img.close()
    return img


def pil_file(name, array, mode=None):
    return lambda tmp: with_good(tmp, save(tmp, name, Image.fromarray(array, mode) if mode else Image.fromarray(array)))


MASKED = [
    pytest.param(Bad(lambda t: masked(np.zeros((2, 8, 8)), np.eye(8, dtype=bool)[None].repeat(2, 0)), TypeError,
                     r"masked array", r"X\.filled\(0\)"), id="masked-float-partial-mask"),
    pytest.param(Bad(lambda t: masked(u8(2, 8, 8), True), TypeError, r"masked array", r"X\.filled\(0\)"),
                 id="masked-uint8-all-masked"),
    pytest.param(Bad(lambda t: np.ma.masked_array(u8(2, 8, 8, 3, value=7)), TypeError, r"masked array",
                     r"filled\(0\)"), id="masked-rgb-nothing-masked"),
    pytest.param(Bad(lambda t: masked(np.zeros((3, 64)), np.arange(192).reshape(3, 64) % 5 == 0), TypeError,
                     r"masked array", r"filled\(0\)", input_shape=(8, 8)), id="masked-flattened"),
    pytest.param(Bad(lambda t: masked(np.ones((2, 4, 4), bool), False), TypeError, r"masked array",
                     r"filled\(0\)"), id="masked-bool"),
    pytest.param(Bad(lambda t: [u8(8, 8), masked(u8(8, 8), True)], TypeError, r"X\[1\] is a numpy masked array",
                     r"X\[1\]\.filled\(0\)"), id="masked-list-item"),
    pytest.param(Bad(lambda t: np.ma.masked_invalid(np.full((2, 8, 8), np.nan)), TypeError, r"masked array",
                     r"filled\(0\)"), id="masked-invalid-nan"),
]

OBJECTS_AND_MISSING = [
    pytest.param(Bad(lambda t: np.array([1, 2, 3], dtype=object), TypeError, r"object array .*holding numbers",
                     r"numeric dtype array.*astype"), id="object-1d-ints"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8), dtype=object), TypeError, r"holding numbers.*X\[0, 0, 0\]",
                     r"astype\(np\.uint8\)"), id="object-3d-floats"),
    pytest.param(Bad(lambda t: np.full((2, 64), 0.5, dtype=object), TypeError, r"holding numbers",
                     r"astype\(np\.float32\)", input_shape=(8, 8)), id="object-2d-flattened"),
    pytest.param(Bad(lambda t: np.array([True, False], dtype=object), TypeError, r"holding numbers",
                     r"numeric dtype"), id="object-bools"),
    pytest.param(Bad(lambda t: np.array([Fraction(1, 2), Fraction(1, 3)], dtype=object), TypeError,
                     r"holding numbers", r"numeric dtype"), id="object-fractions"),
    pytest.param(Bad(lambda t: np.array([1, "a.png"], dtype=object), TypeError, r"mixing numbers \(X\[0\] = 1\)",
                     r"Pass only the file paths"), id="object-mixed-int-str"),
    pytest.param(Bad(lambda t: np.array(["a.png", 0.5], dtype=object), TypeError, r"mixing numbers",
                     r"only the pixels"), id="object-mixed-str-float"),
    pytest.param(Bad(lambda t: np.array([["a.png", 3], ["b.png", 4]], dtype=object), TypeError,
                     r"mixing numbers \(X\[0, 1\] = 3\)", r"path column"), id="object-table-path-and-label"),
    pytest.param(Bad(lambda t: ["a.png", None], ValueError, r"X\[1\] is missing \(None\)", r"Drop missing"),
                 id="list-with-none"),
    pytest.param(Bad(lambda t: [float("nan"), "a.png"], ValueError, r"X\[0\] is missing \(nan\)", r"Drop missing"),
                 id="list-with-nan"),
    pytest.param(Bad(lambda t: np.array(["a.png", None], dtype=object), ValueError, r"X\[1\] is missing",
                     r"Drop missing"), id="object-with-none"),
    pytest.param(Bad(lambda t: np.array([np.nan, "b.png"], dtype=object), ValueError, r"X\[0\] is missing",
                     r"dropna"), id="object-with-nan"),
    pytest.param(Bad(lambda t: __import__("pandas").Series(["a.png", None, "b.png"]), ValueError,
                     r"X\[1\] is missing", r"dropna"), id="pandas-series-with-none"),
    pytest.param(Bad(lambda t: __import__("pandas").DataFrame({"path": ["a.png", "b.png"], "label": [0, 1]}),
                     TypeError, r"mixing numbers", r"df\['path'\]"), id="pandas-dataframe-path-and-label"),
]

SCALARS = [
    pytest.param(Bad(lambda t: np.array(3.0), ValueError, r"X must be images, got a scalar \(3\.0",
                     r"Pass an array of images"), id="0d-float-array"),
    pytest.param(Bad(lambda t: np.array(7, dtype=np.uint8), ValueError, r"got a scalar \(7, dtype uint8\)",
                     r"Pass an array of images", not_in=r"empty"), id="0d-uint8-array"),
    pytest.param(Bad(lambda t: np.array(True), ValueError, r"got a scalar", r"\(N, H, W\)"), id="0d-bool-array"),
    pytest.param(Bad(lambda t: np.float64(0.5), ValueError, r"got a scalar \(0\.5", r"Pass an array"),
                 id="numpy-float-scalar"),
    pytest.param(Bad(lambda t: 3, ValueError, r"got a scalar \(3,", r"Pass an array"), id="python-int"),
    pytest.param(Bad(lambda t: 0.25, ValueError, r"got a scalar \(0\.25", r"Pass an array"), id="python-float"),
    pytest.param(Bad(lambda t: torch.tensor(0.5), ValueError, r"got a scalar tensor", r"Pass a tensor"),
                 id="0d-tensor"),
    pytest.param(Bad(lambda t: good_png(t), TypeError, r"X is a single path '.*ok\.png'", r"\['.*ok\.png'\]"),
                 id="single-path-str"),
    pytest.param(Bad(lambda t: Path(good_png(t)), TypeError, r"single path", r"list of paths"),
                 id="single-path-pathlib"),
    pytest.param(Bad(lambda t: str(t), TypeError, r"single folder path", r"glob\.glob"), id="single-folder-str"),
    pytest.param(Bad(lambda t: np.str_("x.png"), TypeError, r"single path 'x\.png'", r"list of paths"),
                 id="numpy-str-scalar"),
    pytest.param(Bad(lambda t: np.array("x.png"), TypeError, r"single path", r"list of paths"),
                 id="0d-str-array"),
]

FLOATS = [
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 1.01), ValueError, r"max found = 1\.01",
                     r"Divide by 255 or by the max.*X / X\.max\(\)", not_in=r"X / 16"), id="float-1.01"),
    pytest.param(Bad(lambda t: np.linspace(0, 1 + 1e-6, 128).reshape(2, 8, 8), ValueError, r"max found = 1",
                     r"np\.clip\(X, 0, 1\)", not_in=r"X / 16"), id="float-rounding-above-1"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 3.0), ValueError, r"floats in \[3, 3\].*max found = 3",
                     r"X / 16\.0"), id="float-3-integral"),
    pytest.param(Bad(lambda t: np.arange(128, dtype=float).reshape(2, 8, 8) % 17, ValueError, r"max found = 16",
                     r"X / 16\.0 for scikit-learn's digits"), id="float-digits-0-16"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 200.0), ValueError, r"max found = 200", r"X / 255\.0"),
                 id="float-200"),
    pytest.param(Bad(lambda t: np.arange(256, dtype=float).reshape(4, 8, 8), ValueError, r"max found = 255",
                     r"X / 255\.0.*X\.astype\(np\.uint8\)"), id="float-0-255-integral"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 1000.5), ValueError, r"max found = 1000\.5", r"X / X\.max\(\)",
                     not_in=r"255\.0"), id="float-1000"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), -0.5), ValueError, r"Negative values.*min found = -0\.5",
                     r"Rescale to \[0, 1\]"), id="float-negative"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 1.5, np.float32), ValueError, r"max found = 1\.5",
                     r"Divide by 255 or by the max"), id="float32-1.5"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 2.0, np.float16), ValueError, r"max found = 2",
                     r"Divide by 255"), id="float16-2"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8, 3), 1.2), ValueError, r"max found = 1\.2", r"X / X\.max\(\)"),
                 id="float-rgb-1.2"),
    pytest.param(Bad(lambda t: np.full((2, 64), 255.0), ValueError, r"max found = 255", r"X / 255\.0",
                     input_shape=(8, 8)), id="float-flattened-255"),
    pytest.param(Bad(lambda t: torch.full((2, 1, 8, 8), 1.01), ValueError, r"max found = 1\.01",
                     r"Divide by 255 or by the max", not_in=r"X / 16"), id="tensor-float-1.01"),
    pytest.param(Bad(lambda t: torch.full((2, 3, 8, 8), -2.0), ValueError, r"Negative values", r"Rescale"),
                 id="tensor-float-negative"),
    pytest.param(Bad(lambda t: [np.zeros((8, 8)), np.full((8, 8), 1.5)], ValueError, r"X\[1\] holds floats.*1\.5",
                     r"Divide by 255"), id="list-item-float-1.5"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), np.nan), ValueError, r"NaN or infinity", r"np\.nan_to_num"),
                 id="float-nan"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), np.inf), ValueError, r"NaN or infinity", r"nan_to_num"),
                 id="float-inf"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), -np.inf, np.float32), ValueError, r"NaN or infinity",
                     r"nan_to_num"), id="float32-minus-inf"),
    pytest.param(Bad(lambda t: torch.full((2, 1, 8, 8), float("nan")), ValueError, r"NaN or infinity",
                     r"torch\.nan_to_num"), id="tensor-nan"),
    pytest.param(Bad(lambda t: [np.full((8, 8), np.nan)], ValueError, r"X\[0\] contains NaN", r"nan_to_num"),
                 id="list-item-nan"),
]

INTEGERS = [
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 300, np.int16), ValueError, r"integers in \[300, 300\]",
                     r"uint8.*X\.astype\(np\.uint16\)"), id="int16-300"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), -1, np.int32), ValueError, r"Negative values.*\[-1, -1\]",
                     r"Rescale to floats"), id="int32-negative"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 70000, np.int64), ValueError, r"integers in \[70000, 70000\]",
                     r"Rescale to floats", not_in=r"uint16"), id="int64-above-16-bit"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 256, np.uint32), ValueError, r"\[256, 256\]",
                     r"astype\(np\.uint16\)"), id="uint32-256"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), -5, np.int8), ValueError, r"Negative values", r"uint8"),
                 id="int8-negative"),
    pytest.param(Bad(lambda t: np.full((2, 8, 8), 1000, np.uint64), ValueError, r"\[1000, 1000\]",
                     r"16-bit pixels"), id="uint64-1000"),
    pytest.param(Bad(lambda t: torch.full((2, 1, 8, 8), 300, dtype=torch.int32), ValueError, r"\[300, 300\]",
                     r"Rescale"), id="tensor-int32-300"),
    pytest.param(Bad(lambda t: torch.full((2, 3, 8, 8), -1, dtype=torch.int64), ValueError, r"Negative values",
                     r"Rescale"), id="tensor-int64-negative"),
    pytest.param(Bad(lambda t: [np.full((8, 8), 300, np.int32)], ValueError, r"X\[0\] holds integers",
                     r"Rescale"), id="list-item-int32-300"),
]

DIMENSIONS = [
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8, 3, 1)), ValueError, r"X has 5 dimensions",
                     r"np\.squeeze\(X, axis=\(4,\)\)"), id="5d-trailing-one"),
    pytest.param(Bad(lambda t: u8(2, 3, 8, 8, 3), ValueError, r"X has 5 dimensions", r"X\.reshape\(-1"),
                 id="5d-video"),
    pytest.param(Bad(lambda t: np.zeros((2, 1, 1, 8, 8, 3)), ValueError, r"X has 6 dimensions",
                     r"np\.squeeze\(X, axis=\(1, 2\)\)"), id="6d"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8, 1, 1)), ValueError, r"X has 5 dimensions",
                     r"\(N, H, W\), \(N, H, W, C\)", input_shape=(8, 8), not_in=r"does not match"),
                 id="5d-with-input-shape"),
    pytest.param(Bad(lambda t: torch.zeros(2, 1, 3, 8, 8), ValueError, r"got shape \(2, 1, 3, 8, 8\) \(5 dim",
                     r"Reshape it"), id="tensor-5d"),
    pytest.param(Bad(lambda t: torch.zeros(2, 64), ValueError, r"must be \(N, C, H, W\).*2 dimensions",
                     r"Reshape it"), id="tensor-2d"),
    pytest.param(Bad(lambda t: np.zeros(5), ValueError, r"X is 1-D", r"X\.reshape\(1, -1\)"), id="1d-float"),
    pytest.param(Bad(lambda t: np.ones(64, bool), ValueError, r"X is 1-D", r"reshape\(1, -1\).*input_shape"),
                 id="1d-bool"),
]

CHANNELS_AND_EMPTY = [
    pytest.param(Bad(lambda t: u8(2, 8, 8, 2), ValueError, r"image shape \(8, 8, 2\)", r"gray \+ alpha.*X\[\.\.\., 0\]"),
                 id="two-channels"),
    pytest.param(Bad(lambda t: u8(2, 8, 8, 5), ValueError, r"image shape \(8, 8, 5\)", r"X\[\.\.\., :3\]"),
                 id="five-channels"),
    pytest.param(Bad(lambda t: u8(2, 3, 8, 8), ValueError, r"image shape \(3, 8, 8\)",
                     r"channels-first.*transpose\(0, 2, 3, 1\)"), id="channels-first-numpy"),
    pytest.param(Bad(lambda t: u8(2, 1, 16, 16), ValueError, r"image shape \(1, 16, 16\)", r"channels-first"),
                 id="channels-first-gray-numpy"),
    pytest.param(Bad(lambda t: torch.zeros(2, 5, 8, 8), ValueError, r"5 channels", r"X\.permute\(0, 3, 1, 2\)"),
                 id="tensor-five-channels"),
    pytest.param(Bad(lambda t: torch.zeros(2, 8, 8, 3), ValueError, r"8 channels", r"permute"),
                 id="tensor-channels-last"),
    pytest.param(Bad(lambda t: [u8(8, 8), u8(8, 8, 2)], ValueError, r"X\[1\] has image shape \(8, 8, 2\)",
                     r"X\[\.\.\., 0\]"), id="list-item-two-channels"),
    pytest.param(Bad(lambda t: [u8(8, 8), u8(8, 8, 8, 3)], ValueError, r"X\[1\] has image shape",
                     r"Reshape X"), id="list-item-4d"),
    pytest.param(Bad(lambda t: np.zeros((0, 8, 8)), ValueError, r"X is empty", r"at least one image"),
                 id="no-images"),
    pytest.param(Bad(lambda t: u8(2, 0, 8), ValueError, r"holds empty images", r"drop the empty images"),
                 id="zero-height"),
    pytest.param(Bad(lambda t: u8(2, 8, 0, 3), ValueError, r"holds empty images", r"drop the empty images"),
                 id="zero-width-rgb"),
    pytest.param(Bad(lambda t: [], ValueError, r"X is an empty list", r"non-empty list"), id="empty-list"),
    pytest.param(Bad(lambda t: (), ValueError, r"X is an empty list", r"non-empty"), id="empty-tuple"),
    pytest.param(Bad(lambda t: torch.zeros(0, 3, 8, 8), ValueError, r"N >= 1", r"Reshape"), id="tensor-no-images"),
    pytest.param(Bad(lambda t: torch.zeros(2, 3, 0, 8), ValueError, r"holds empty images", r"Drop the empty"),
                 id="tensor-zero-height"),
    pytest.param(Bad(lambda t: [u8(8, 8), u8(0, 8)], ValueError, r"X\[1\] holds empty images", r"drop the empty"),
                 id="list-item-empty"),
]

FLATTENED_AND_INPUT_SHAPE = [
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"flattened images need", r"input_shape=\(8, 8\)"),
                 id="flat-no-input-shape-square"),
    pytest.param(Bad(lambda t: np.zeros((3, 50)), ValueError, r"flattened images need",
                     r"input_shape=\(H, W\) or \(H, W, C\)"), id="flat-no-input-shape-not-square"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"holds 49 values per image, but X has 64 columns",
                     r"H \* W \* C = 64, e\.g\. input_shape=\(8, 8\)", input_shape=(7, 7)), id="flat-wrong-shape"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"holds 192 values", r"H \* W \* C = 64",
                     input_shape=(8, 8, 3)), id="flat-rgb-shape-for-gray"),
    pytest.param(Bad(lambda t: np.zeros((3, 0)), ValueError, r"0 feature", r"at least one pixel"),
                 id="flat-zero-columns"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(-8, -8\) is not an image shape",
                     r"Pass the shape of one image", input_shape=(-8, -8)), id="input-shape-negative"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(-4, 4, -4\)", r"positive H and W",
                     input_shape=(-4, 4, -4)), id="input-shape-negative-3"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(0, 8\)", r"Pass the shape",
                     input_shape=(0, 8)), id="input-shape-zero-height"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(8, 8, 0\)", r"C in 1, 3, 4",
                     input_shape=(8, 8, 0)), id="input-shape-zero-channels"),
    pytest.param(Bad(lambda t: np.zeros((3, 128)), ValueError, r"input_shape=\(8, 8, 2\)", r"C in 1, 3, 4",
                     input_shape=(8, 8, 2)), id="input-shape-two-channels"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(64,\)", r"\(H, W\) or \(H, W, C\)",
                     input_shape=(64,)), id="input-shape-one-entry"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), ValueError, r"input_shape=\(8, 8, 1, 1\)", r"Pass the shape",
                     input_shape=(8, 8, 1, 1)), id="input-shape-four-entries"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), TypeError, r"input_shape must be a tuple of ints.*got 8",
                     r"input_shape=\(8, 8\)", input_shape=8), id="input-shape-int"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), TypeError, r"got '8, 8'", r"Pass the shape of one image",
                     input_shape="8, 8"), id="input-shape-str"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), TypeError, r"got \(8\.0, 8\.0\)", r"tuple of ints",
                     input_shape=(8.0, 8.0)), id="input-shape-floats"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), TypeError, r"got \(True, True\)", r"tuple of ints",
                     input_shape=(True, True)), id="input-shape-bools"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)), TypeError, r"got \(8, None\)", r"Pass the shape",
                     input_shape=(8, None)), id="input-shape-none-entry"),
    pytest.param(Bad(lambda t: np.zeros((3, 8, 8)), ValueError, r"input_shape=\(4, 16\) does not match",
                     r"drop it or fix it", input_shape=(4, 16)), id="input-shape-mismatch-3d"),
    pytest.param(Bad(lambda t: np.zeros((3, 64)).tolist(), ValueError, r"holds 49 values", r"input_shape=\(8, 8\)",
                     input_shape=(7, 7)), id="nested-flat-wrong-shape"),
]

DTYPES_CONTAINERS_LISTS = [
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8), complex), ValueError, r"Complex data", r"np\.abs\(X\)"),
                 id="complex128"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8), np.complex64), ValueError, r"Complex data", r"X\.real"),
                 id="complex64"),
    pytest.param(Bad(lambda t: torch.zeros(2, 1, 8, 8, dtype=torch.complex64), TypeError, r"complex64",
                     r"X\.abs\(\)"), id="tensor-complex"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8), "datetime64[s]"), TypeError, r"dtype datetime64",
                     r"Pass a numeric array"), id="datetime64"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8), "timedelta64[s]"), TypeError, r"dtype timedelta64",
                     r"Pass a numeric array"), id="timedelta64"),
    pytest.param(Bad(lambda t: np.zeros((2, 8), dtype=[("a", "u1"), ("b", "f4")]), TypeError, r"X has dtype",
                     r"numeric array"), id="structured"),
    pytest.param(Bad(lambda t: np.array([["a.png", "b.png"], ["c.png", "d.png"]]), ValueError,
                     r"file paths must be 1-D; got shape \(2, 2\)", r"X\.ravel\(\)"), id="paths-2d"),
    pytest.param(Bad(lambda t: {"a": 1}, TypeError, r"Cannot read images from dict", r"Pass a numpy array"),
                 id="dict"),
    pytest.param(Bad(lambda t: {1, 2}, TypeError, r"Cannot read images from set", r"list of file paths"),
                 id="set"),
    pytest.param(Bad(lambda t: __import__("scipy.sparse").sparse.csr_matrix(np.eye(4)), TypeError,
                     r"Sparse data", r"X\.toarray\(\)"), id="sparse-csr"),
    pytest.param(Bad(lambda t: __import__("scipy.sparse").sparse.coo_array(np.eye(4)), TypeError, r"Sparse data",
                     r"toarray"), id="sparse-coo-array"),
    pytest.param(Bad(lambda t: [0.1, 0.2, 0.3], TypeError, r"list items must be",
                     r"\[X\] with input_shape"), id="flat-list-of-numbers"),
    pytest.param(Bad(lambda t: [torch.zeros(3, 8, 8)], TypeError, r"X\[0\] is a Tensor", r"torch\.stack\(X\)"),
                 id="list-of-tensors"),
    pytest.param(Bad(lambda t: [b"a.png"], TypeError, r"X\[0\] is a bytes", r"p\.decode\(\)"),
                 id="list-of-bytes"),
    pytest.param(Bad(lambda t: [{"path": "a.png"}], TypeError, r"X\[0\] is a dict", r"list items must be"),
                 id="list-of-dicts"),
    pytest.param(Bad(lambda t: [u8(8, 8), good_png(t)], TypeError, r"mixes item types: array.*path",
                     r"Pass one kind of image"), id="mixed-array-and-path"),
    pytest.param(Bad(lambda t: [Image.new("L", (8, 8)), u8(8, 8)], TypeError, r"mixes item types.*pil",
                     r"all PIL images or all arrays"), id="mixed-pil-and-array"),
    pytest.param(Bad(lambda t: [u8(8, 8), 3], TypeError, r"mixes item types.*number \(e\.g\. X\[1\]\)",
                     r"one kind of image"), id="mixed-array-and-number"),
    pytest.param(Bad(lambda t: [[["a", "b"], ["c", "d"]]], TypeError, r"nested list of <U1 values, not numbers",
                     r"pass pixels"), id="nested-strings"),
    pytest.param(Bad(lambda t: [[[0, 1], [2]], [[0, 1], [2, 3]]], TypeError, r"X\[0\] is a nested list that is not "
                     r"a rectangular grid", r"equal-length rows"), id="nested-not-rectangular"),
    pytest.param(Bad(lambda t: [[[0, 1], [2, 3]], [["a", "b"], ["c", "d"]]], TypeError, r"not numbers",
                     r"pass pixels"), id="nested-numbers-and-strings"),
    pytest.param(Bad(lambda t: [[[0.0, 2.0], [0.5, 0.5]]], ValueError, r"max found = 2", r"Divide by 255"),
                 id="nested-float-out-of-range"),
    pytest.param(Bad(lambda t: [np.zeros((8, 8), "datetime64[s]")], TypeError, r"X\[0\] has dtype datetime64",
                     r"Pass uint8 pixels"), id="list-item-datetime"),
    pytest.param(Bad(lambda t: __import__("collections").deque([good_png(t)]), TypeError,
                     r"Cannot read images from deque", r"pass list\(X\)"), id="deque-of-paths"),
    pytest.param(Bad(lambda t: _png_bytes(), TypeError, r"Cannot read images from bytes.*Bytes are no image",
                     r"io\.BytesIO\(X\)"), id="encoded-png-bytes"),
    pytest.param(Bad(lambda t: np.array([b"a.png", b"b.png"]), TypeError, r"X\[0\] is a bytes_",
                     r"p\.decode\(\)"), id="bytes-array-of-paths"),
    pytest.param(Bad(lambda t: __import__("pandas").DataFrame(np.full((2, 64), 0.5)).astype("Float32").mask(
                     np.eye(2, 64, dtype=bool)), ValueError, r"NaN or infinity", r"nan_to_num", input_shape=(8, 8)),
                 id="pandas-nullable-floats-with-na"),
]

PATHS = [
    pytest.param(Bad(lambda t: [str(t)], ValueError, r"X\[0\]: '.*' is a directory, not an image file",
                     r"glob\.glob.*sktransfer benchmark", not_in=r"not found"), id="directory"),
    pytest.param(Bad(lambda t: [good_png(t), Path(t)], ValueError, r"X\[1\]: .* is a directory", r"glob"),
                 id="directory-pathlib"),
    pytest.param(Bad(lambda t: [good_png(t), str(t / "nope.png")], ValueError, r"X\[1\]: image file not found",
                     r"Check the path"), id="missing-file"),
    pytest.param(Bad(lambda t: ["relative/nope.png"], ValueError, r"not found: 'relative/nope\.png'",
                     r"relative paths are taken from the working directory"), id="missing-relative"),
    pytest.param(Bad(lambda t: [good_png(t), ""], ValueError, r"X\[1\] is an empty string", r"Drop it"),
                 id="empty-string-path"),
    pytest.param(Bad(lambda t: with_good(t, write(t, "text.png", b"not an image at all")), ValueError,
                     r"Cannot read image file '.*text\.png' \(X\[1\]\)", r"Re-save it"), id="text-named-png"),
    pytest.param(Bad(lambda t: with_good(t, write(t, "empty.jpg", b"")), ValueError, r"Cannot read image file",
                     r"Re-save it.*or remove it"), id="empty-file"),
    pytest.param(Bad(lambda t: with_good(t, write(t, "cut.png", _png_bytes()[:300])),
                     ValueError, r"Cannot read image file '.*cut\.png'", r"Re-save"), id="truncated-png"),
    pytest.param(Bad(lambda t: with_good(t, write(t, "cut.jpg", _jpeg_bytes()[:200])), ValueError,
                     r"Cannot read image file '.*cut\.jpg'", r"Re-save"), id="truncated-jpeg"),
    pytest.param(Bad(lambda t: with_good(t, fifo(t)), ValueError, r"X\[1\]: '.*pipe' is a named pipe \(FIFO\), not "
                     r"a regular file", r"save it to a file first", not_in=r"not found"), id="fifo"),
    pytest.param(Bad(lambda t: ["/dev/null"], ValueError, r"'/dev/null' is a character device, not a regular file",
                     r"Pass the path of an image file", not_in=r"not found"), id="dev-null"),
    pytest.param(Bad(lambda t: with_good(t, broken_link(t)), ValueError,
                     r"X\[1\]: '.*link\.png' is a symbolic link to a missing file \('.*gone\.png'\)",
                     r"Fix or remove the link"), id="broken-symlink"),
    pytest.param(Bad(lambda t: ["a\x00b.png"], ValueError, r"contains a NUL character", r"how the path was built",
                     not_in=r"not found"), id="nul-in-path"),
    pytest.param(Bad(lambda t: [os.path.join(good_png(t), "x.png")], ValueError,
                     r"cannot look up '.*ok\.png/x\.png' \(Not a directory\)", r"Check the path"),
                 id="file-used-as-folder"),
]


def _encoded(fmt):
    """A 64x64 noise image encoded as ``fmt``: thousands of bytes, so cutting it loses pixels."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def _jpeg_bytes():
    return _encoded("JPEG")


def _png_bytes():
    return _encoded("PNG")


BOMBS = [
    pytest.param(bomb("bomb.png", png_header(20000, 20000)), id="bomb-png"),
    pytest.param(bomb("bomb16.png", png_header(20000, 20000, bitdepth=16)), id="bomb-png-16-bit"),
    pytest.param(bomb("bombrgb.png", png_header(20000, 20000, color=2)), id="bomb-png-rgb"),
    pytest.param(bomb("bomb.pgm", ppm_header(20000, 20000)), id="bomb-pgm"),
    pytest.param(bomb("bomb.ppm", ppm_header(20000, 20000, b"P6")), id="bomb-ppm"),
    pytest.param(bomb("bomb.pbm", b"P4\n20000 20000\n" + b"\0" * 16), id="bomb-pbm"),
    pytest.param(bomb("bomb.bmp", bmp_header(20000, 20000)), id="bomb-bmp"),
    pytest.param(bomb("bomb.gif", gif_header(20000, 20000)), id="bomb-gif"),
    pytest.param(bomb("bomb.tif", tiff_header(20000, 20000)), id="bomb-tiff"),
    pytest.param(bomb("bomb.jpg", jpeg_header(20000, 20000)), id="bomb-jpeg"),
    # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns: refused all the same.
    pytest.param(bomb("big.png", png_header(10000, 10000)), id="bomb-warning-range-png"),
]

PIL_VALUES = [
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), -3, np.int32))], ValueError,
                     r"X\[0\] is a PIL mode 'I'.*\[-3, -3\].*neither 8-bit", r"Rescale it first"),
                 id="pil-I-negative"),
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), 70000, np.int32))], ValueError,
                     r"mode 'I'.*\[70000, 70000\]", r"Rescale it first"), id="pil-I-above-16-bit"),
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), -0.5, np.float32))], ValueError,
                     r"mode 'F'.*\[-0\.5, -0\.5\]", r"Rescale it first"), id="pil-F-negative"),
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), 300.0, np.float32))], ValueError,
                     r"mode 'F'.*neither \[0, 1\] nor 0\.\.255", r"Rescale it first"), id="pil-F-above-255"),
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), np.nan, np.float32))], ValueError,
                     r"mode 'F'.*NaN or infinity", r"nan_to_num"), id="pil-F-nan"),
    pytest.param(Bad(lambda t: [Image.fromarray(np.full((8, 8), np.inf, np.float32))], ValueError,
                     r"NaN or infinity", r"nan_to_num"), id="pil-F-inf"),
    pytest.param(Bad(lambda t: [Image.new("L", (0, 0))], ValueError, r"X\[0\] is an empty image", r"drop it"),
                 id="pil-empty"),
    pytest.param(Bad(pil_file("neg.tif", np.full((8, 8), -7, np.int32)), ValueError,
                     r"'.*neg\.tif' \(X\[1\]\) is a PIL mode 'I'", r"Rescale it first"), id="tiff-int32-negative"),
    pytest.param(Bad(pil_file("big.tif", np.full((8, 8), 100000, np.int32)), ValueError,
                     r"big\.tif.*mode 'I'.*\[100000, 100000\]", r"Rescale"), id="tiff-int32-above-16-bit"),
    pytest.param(Bad(pil_file("f.tif", np.full((8, 8), 1000.0, np.float32)), ValueError,
                     r"f\.tif.*mode 'F'.*\[1000, 1000\]", r"Rescale"), id="tiff-float-above-255"),
]


CLOSED_AND_SINGLE_PIL = [
    pytest.param(Bad(lambda t: [closed_after_with(t)], ValueError, r"X\[0\] is a closed PIL image",
                     r"Pass the file path instead.*img\.copy\(\)"), id="pil-used-after-its-with-block"),
    pytest.param(Bad(lambda t: [Image.new("L", (8, 8)), closed_by_close()], ValueError,
                     r"X\[1\] is a closed PIL image", r"img\.copy\(\)"), id="pil-closed-by-close"),
    pytest.param(Bad(lambda t: Image.new("L", (8, 8)), TypeError, r"X is a single PIL image", r"\[img\]"),
                 id="single-pil-image"),
]

TENSOR_KINDS = [
    pytest.param(Bad(lambda t: torch.zeros(2, 1, 8, 8).to_sparse(), TypeError, r"Tensor X is sparse",
                     r"X\.to_dense\(\)"), id="tensor-sparse"),
    pytest.param(Bad(lambda t: torch.zeros(2, 1, 8, 8, device="meta"), ValueError, r"'meta' device.*no values",
                     r"Pass a tensor holding the images' pixels"), id="tensor-meta"),
    pytest.param(Bad(lambda t: torch.zeros(2, 1, 8, 8, dtype=torch.float8_e4m3fn), TypeError,
                     r"dtype torch\.float8_e4m3fn", r"X\.float\(\)"), id="tensor-float8"),
    pytest.param(Bad(lambda t: torch.quantize_per_tensor(torch.zeros(2, 1, 8, 8), 0.1, 0, torch.quint8), TypeError,
                     r"Tensor X is quantized", r"X\.dequantize\(\)"), id="tensor-quantized",
                 marks=pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")),
]


@pytest.mark.parametrize(
    "case",
    MASKED + OBJECTS_AND_MISSING + SCALARS + FLOATS + INTEGERS + DIMENSIONS + CHANNELS_AND_EMPTY
    + FLATTENED_AND_INPUT_SHAPE + DTYPES_CONTAINERS_LISTS + PATHS + BOMBS + PIL_VALUES + CLOSED_AND_SINGLE_PIL
    + TENSOR_KINDS,
)
def test_bad_x_is_a_clear_error(case, fitted, tmp_path):
    X = case.make(tmp_path)
    before = fingerprint(X)
    with pytest.raises(case.error) as info:
        if case.call is None:
            read_all(X, case.input_shape)
        else:
            case.call(X, fitted)
    assert_clear(info, case.problem, case.fix, case.not_in)
    assert fingerprint(X) == before, "X was modified"
    assert_fitted_unchanged(fitted)


# ----------------------------------------------------------------------------- estimators: parameters, fit, transform


def _refit(name):
    return lambda X, f: f[name].est.fit(X)


def _transform(name):
    return lambda X, f: f[name].est.transform(X)


def _fit_fresh(make_est):
    return lambda X, f: make_est().fit(X)


def _transform_after(set_params):
    """set_params on a fitted clone, then transform: parameters read at transform time are checked too."""
    from sklearn.base import clone

    def call(X, f):
        est = clone(f["hog"].est).fit(f["hog"].X).set_params(**set_params)
        return est.transform(X)

    return call


def _extractor(**params):
    """The extractor with the tiny random-init network: fitted in well under a second."""
    from sktransfer import PretrainedFeatureExtractor

    return PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                                      random_state=0, **params)


def _extractor_transform_after(set_params):
    """A fitted extractor, set_params, then transform: what transform uses is checked there."""
    return lambda X, f: _extractor().fit(u8(2, 8, 8)).set_params(**set_params).transform(X)


ESTIMATOR_CASES = [
    # HOG/Pixel parameters (X is fine; the estimator is not).
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"n_jobs=0 is not a number of workers",
                     r"None or 1 for one process.*-1 for all processors",
                     call=_fit_fresh(lambda: HOGTransformer(pixels_per_cell=4, n_jobs=0))), id="hog-n-jobs-0-fit"),
    pytest.param(Bad(lambda t: u8(3, 32, 32), ValueError, r"n_jobs=0 is not a number of workers", r"-1 for all",
                     call=_transform_after({"n_jobs": 0})), id="hog-n-jobs-0-after-fit"),
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"n_jobs=True is not a number of workers",
                     r"a positive int", call=_fit_fresh(lambda: HOGTransformer(pixels_per_cell=4, n_jobs=True))),
                 id="hog-n-jobs-bool"),
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"pixels_per_cell must be a positive int.*\(4, 0\)",
                     r"pixels_per_cell=\(8, 8\)", call=_fit_fresh(lambda: HOGTransformer(pixels_per_cell=(4, 0)))),
                 id="hog-pixels-per-cell-zero"),
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"cells_per_block must be .*\(2, 2, 2\)",
                     r"cells_per_block=8", call=_fit_fresh(lambda: HOGTransformer(4, cells_per_block=(2, 2, 2)))),
                 id="hog-cells-per-block-triple"),
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"image_size must be .*\(16,\)", r"image_size=\(8, 8\)",
                     call=_fit_fresh(lambda: HOGTransformer(4, image_size=(16,)))), id="hog-image-size-single"),
    pytest.param(Bad(lambda t: u8(3, 16, 16), ValueError, r"image_size must be .*\(16, -2\)", r"image_size=8",
                     call=_fit_fresh(lambda: PixelTransformer(image_size=(16, -2)))), id="pixels-image-size-negative"),
    pytest.param(Bad(lambda t: u8(3, 8, 8), ValueError, r"8x8 pixels hold only 1x1 cells",
                     r"set image_size=16 or larger", call=_fit_fresh(HOGTransformer)), id="hog-images-too-small"),
    # Bad X through fit and transform of fitted transformers: the old fit must survive.
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8, 1, 1)), ValueError, r"X has 5 dimensions", r"np\.squeeze",
                     call=_transform("hog_flat"), not_in=r"does not match"), id="transform-5d-input-shape-set"),
    pytest.param(Bad(lambda t: np.zeros((2, 8, 8, 1, 1)), ValueError, r"X has 5 dimensions", r"np\.squeeze",
                     call=_refit("pixels_flat"), not_in=r"does not match"), id="refit-5d-input-shape-set"),
    pytest.param(Bad(lambda t: masked(u8(3, 32, 32), False), TypeError, r"masked array", r"filled\(0\)",
                     call=_refit("pixels")), id="refit-masked"),
    pytest.param(Bad(lambda t: masked(u8(3, 32, 32), True), TypeError, r"masked array", r"filled\(0\)",
                     call=_transform("hog")), id="transform-masked"),
    pytest.param(Bad(lambda t: np.zeros((3, 64), dtype=object), TypeError, r"holding numbers", r"numeric dtype",
                     call=_refit("hog_flat")), id="refit-object-numbers"),
    pytest.param(Bad(lambda t: np.zeros((3, 16)).tolist(), ValueError, r"X has 16 features, but PixelTransformer "
                     r"is expecting 64", r"refit on the new size", call=_transform("pixels_flat")),
                 id="transform-nested-wrong-width"),
    pytest.param(Bad(lambda t: [str(t)], ValueError, r"is a directory", r"glob", call=_transform("pixels")),
                 id="transform-directory"),
    pytest.param(Bad(lambda t: with_good(t, write(t, "b.png", png_header(20000, 20000))), ValueError,
                     r"b\.png.*too large", r"MAX_IMAGE_PIXELS = None", call=_transform("hog")),
                 id="transform-bomb"),
    pytest.param(Bad(lambda t: np.array(0.5), ValueError, r"got a scalar", r"Pass an array", call=_refit("hog")),
                 id="refit-scalar"),
    pytest.param(Bad(lambda t: np.full((3, 32, 32), 1.01), ValueError, r"max found = 1\.01", r"Divide by 255",
                     call=_refit("hog"), not_in=r"X / 16"), id="refit-float-1.01"),
    # The extractor (issue 21): special files, closed PIL images, parameters changed after fit.
    pytest.param(Bad(lambda t: with_good(t, fifo(t)), ValueError, r"X\[1\]: .* is a named pipe \(FIFO\)",
                     r"save it to a file first", call=_fit_fresh(_extractor)), id="extractor-fit-fifo"),
    pytest.param(Bad(lambda t: [closed_after_with(t)], ValueError, r"X\[0\] is a closed PIL image",
                     r"img\.copy\(\)", call=_extractor_transform_after({})), id="extractor-transform-closed-pil"),
    pytest.param(Bad(lambda t: u8(2, 8, 8), ValueError, r"memory='/proc/sktransfer-x' is not a writable folder",
                     r"memory=None for no cache", call=_extractor_transform_after({"memory": "/proc/sktransfer-x"})),
                 id="extractor-memory-unwritable-after-fit"),
]


@pytest.mark.parametrize("case", ESTIMATOR_CASES)
def test_bad_estimator_input_is_a_clear_error(case, fitted, tmp_path):
    test_bad_x_is_a_clear_error(case, fitted, tmp_path)


# ----------------------------------------------------------------------------- the CLI


@dataclass(frozen=True)
class Cli:
    """One bad command line: ``args(tmp_path)`` after ``sktransfer benchmark``."""

    args: Callable  # tmp_path -> list of str
    problem: str
    fix: str
    before_work: bool = True  # the error must come before the dataset is even loaded


def _npz(tmp):
    rng = np.random.RandomState(0)
    path = tmp / "tiny.npz"
    np.savez(path, X=rng.randint(0, 255, (20, 8, 8)).astype(np.uint8), y=np.arange(20) % 2)
    return str(path)


def _folder(tmp, extra=None):
    """tmp/folder/<a|b>/*.png, with ``extra`` (name, bytes) added to class a."""
    root = tmp / "folder"
    for label in "ab":
        (root / label).mkdir(parents=True, exist_ok=True)
        for k in range(3):
            Image.fromarray(u8(8, 8, value=40 * k + (label == "b") * 100)).save(root / label / f"{k}.png")
    if extra is not None:
        (root / "a" / extra[0]).write_bytes(extra[1])
    return str(root)


def _file_in_the_way(tmp):
    path = tmp / "results.txt"
    path.write_text("keep me")
    return str(path)


def _folder_in_the_way(tmp):
    """An output folder where the runs' CSV file would go is a folder."""
    (tmp / "tiny_runs.csv").mkdir()
    return str(tmp)


FAST = ["--methods", "pixels", "--labels-per-class", "2", "--seeds", "1", "--no-plot", "-q"]

CLI_CASES = [
    pytest.param(Cli(lambda t: [_npz(t), "--output-dir", _file_in_the_way(t), *FAST],
                     r"--output-dir\) '.*results\.txt' is an existing file, not a folder",
                     r"Pass a folder you can write to"), id="output-dir-is-a-file"),
    pytest.param(Cli(lambda t: [_npz(t), "--output-dir", os.path.join(_file_in_the_way(t), "sub"), *FAST],
                     r"results\.txt/sub' cannot be written to \(NotADirectoryError", r"Pass a folder you can write"),
                 id="output-dir-below-a-file"),
    pytest.param(Cli(lambda t: [_npz(t), "--output-dir", "/proc/sktransfer-no-such-dir/out", *FAST],
                     r"'/proc/sktransfer-no-such-dir/out' cannot be written to", r"Pass a folder you can write to"),
                 id="output-dir-in-proc"),
    pytest.param(Cli(lambda t: [_npz(t), "--output-dir", "/sys/sktransfer-out", *FAST],
                     r"'/sys/sktransfer-out' cannot be written to", r"--output-dir benchmark_results"),
                 id="output-dir-in-read-only-sys"),
    pytest.param(Cli(lambda t: [_npz(t), "--output-dir", _folder_in_the_way(t), *FAST],
                     r"'.*tiny_runs\.csv' cannot be written: a folder is in the way", r"Move it away",
                     before_work=False), id="results-file-is-a-folder"),
    pytest.param(Cli(lambda t: [_folder(t, ("bomb.png", png_header(20000, 20000))), "--output-dir", str(t / "o"),
                                *FAST], r"bomb\.png.*too large to open safely",
                     r"--max-image-pixels none", before_work=False), id="folder-with-a-bomb-png"),
    pytest.param(Cli(lambda t: [_folder(t, ("bomb.bmp", bmp_header(20000, 20000))), "--output-dir", str(t / "o"),
                                *FAST], r"bomb\.bmp.*too large", r"PIL\.Image\.MAX_IMAGE_PIXELS = None",
                     before_work=False), id="folder-with-a-bomb-bmp"),
    pytest.param(Cli(lambda t: [_folder(t, ("big.png", png_header(10000, 10000))), "--output-dir", str(t / "o"),
                                *FAST], r"big\.png.*10000x10000", r"--max-image-pixels none",
                     before_work=False), id="folder-with-a-warning-range-png"),
    pytest.param(Cli(lambda t: [_folder(t), "--max-image-pixels", "50", "--output-dir", str(t / "o"), *FAST],
                     r"0\.png.*64 pixels, more than PIL\.Image\.MAX_IMAGE_PIXELS = 50",
                     r"--max-image-pixels none \(or a larger number\)", before_work=False),
                 id="max-image-pixels-below-the-images"),
    pytest.param(Cli(lambda t: [_npz(t), "--max-image-pixels", "0", *FAST],
                     r"argument --max-image-pixels: 0", r"positive int or 'none'"), id="max-image-pixels-zero"),
    pytest.param(Cli(lambda t: [_npz(t), "--max-image-pixels", "lots", *FAST],
                     r"argument --max-image-pixels: 'lots'", r"positive int or 'none'"), id="max-image-pixels-word"),
]


@pytest.mark.parametrize("case", CLI_CASES)
@pytest.mark.parametrize("entry", ["sktransfer", "python -m sktransfer.benchmark"])
def test_bad_command_line_is_a_usage_error(case, entry, fitted, tmp_path, capsys, monkeypatch):
    from sktransfer.__main__ import main as sktransfer_main
    from sktransfer.benchmark import runner
    from sktransfer.benchmark.__main__ import main as benchmark_main

    args = case.args(tmp_path)
    before = fingerprint(args)
    limit = Image.MAX_IMAGE_PIXELS
    if case.before_work:  # loading the dataset is the first piece of work
        monkeypatch.setattr(runner, "load_dataset", lambda *a, **k: pytest.fail("work started before the check"))
    with pytest.raises(SystemExit) as info:
        if entry == "sktransfer":
            sktransfer_main(["benchmark", *args])
        else:
            benchmark_main(list(args))
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage:" in err
    assert re.search(case.problem, err, re.S), f"problem {case.problem!r} not named in: {err}"
    assert re.search(case.fix, err, re.S), f"fix {case.fix!r} not named in: {err}"
    assert "Traceback" not in err
    assert fingerprint(args) == before, "an input file was modified"
    assert Image.MAX_IMAGE_PIXELS == limit, "--max-image-pixels leaked out of the run"
    assert_fitted_unchanged(fitted)


def test_output_dir_check_runs_before_the_dataset_is_loaded(tmp_path, monkeypatch):
    """run_benchmark itself (not only the CLI) refuses a bad output_dir before any work."""
    from sktransfer.benchmark import run_benchmark, runner

    monkeypatch.setattr(runner, "load_dataset", lambda *a, **k: pytest.fail("work started before the check"))
    path = _file_in_the_way(tmp_path)
    with pytest.raises(ValueError, match=r"is an existing file, not a folder.*Pass a folder") as info:
        run_benchmark("digits", methods=["pixels"], output_dir=path, verbose=0)
    assert_clear(info, r"existing file", r"Pass a folder")
    assert Path(path).read_text() == "keep me"


# ----------------------------------------------------------------------------- hub caches with a planted pickle


class _Payload:
    """Unpickling this creates the marker file: what a planted checkpoint would do, harmlessly."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_torch_save(path, marker):
    torch.save({"conv1.weight": _Payload(marker)}, path)


def _plant_raw_pickle(path, marker):
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": _Payload(marker)}, f, protocol=2)


def _plant_legacy_zip(path, marker):
    """torch.hub's legacy format: a zip holding one pickled checkpoint."""
    inner = Path(str(path) + ".inner")
    _plant_raw_pickle(inner, marker)
    with zipfile.ZipFile(path, "w") as z:
        z.write(inner, "resnet18/checkpoint.pth")
    inner.unlink()


def _torchvision_cache(tmp, monkeypatch, plant):
    monkeypatch.setenv("TORCH_HOME", str(tmp / "torch"))
    folder = tmp / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    path = folder / "resnet18-f37072fd.pth"  # the file torchvision's ResNet18 weights are cached as
    plant(path, tmp / "MARKER")
    return "torchvision/resnet18", path


def _timm_cache(tmp, monkeypatch, plant):
    import huggingface_hub.constants as hf

    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp / "hf"))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    repo = tmp / "hf" / "models--timm--resnet18.a1_in1k"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    path = repo / "snapshots" / commit / "pytorch_model.bin"
    plant(path, tmp / "MARKER")
    return "timm/resnet18", path


@pytest.mark.parametrize(
    "cache, plant",
    [
        pytest.param(_torchvision_cache, _plant_torch_save, id="torchvision-torch-save"),
        pytest.param(_torchvision_cache, _plant_raw_pickle, id="torchvision-raw-pickle"),
        pytest.param(_torchvision_cache, _plant_legacy_zip, id="torchvision-legacy-zip",
                     marks=pytest.mark.filterwarnings("ignore:Falling back to the old format:FutureWarning")),
        pytest.param(_timm_cache, _plant_torch_save, id="timm-hf-cache-bin"),
    ],
)
def test_planted_pickle_in_a_hub_cache_is_refused_not_run(cache, plant, fitted, tmp_path, monkeypatch):
    from sktransfer.backbones import WeightsUnavailableError, get_backbone

    name, path = cache(tmp_path, monkeypatch, plant)
    before = fingerprint(path)
    with pytest.raises(WeightsUnavailableError) as info:
        get_backbone(name)
    assert not (tmp_path / "MARKER").exists(), "the planted pickle ran"
    assert_clear(info, r"not a plain weights file: loading them with weights_only=True refused them",
                 r"nothing in it ran\. Delete it \(rm", not_in=r"weights_only=False|could not be downloaded")
    assert str(path) in str(info.value) or str(path.parents[2]) in str(info.value)
    assert fingerprint(path) == before
    assert_fitted_unchanged(fitted)
