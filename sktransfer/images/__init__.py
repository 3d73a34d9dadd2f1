"""Turn what users hold into batches of uint8 image tensors.

Everything an estimator accepts as ``X`` goes through :func:`as_image_set`,
which validates it once and returns an :class:`ImageSet`: a read-only,
indexable view that yields ``uint8`` tensors batch by batch. Files are read
lazily, one batch at a time, so a list of paths never sits in memory whole.

Accepted inputs
---------------
- numpy arrays ``(N, H, W)`` or ``(N, H, W, C)`` with ``C`` in 1, 3, 4;
- flattened numpy arrays ``(N, H*W[*C])`` together with ``input_shape``;
- nested Python lists of numbers, e.g. ``X.tolist()`` of any array above
  (read exactly as that array);
- ``torch.Tensor`` ``(N, C, H, W)`` (or ``(N, H, W)``);
- lists of PIL images or of ``(H, W[, C])`` arrays, sizes may differ;
- lists, tuples, arrays, pandas Series or Index of file paths, or one column
  of them (``df[["path"]]``).

pandas objects are read by position, whatever their index (a DataFrame's rows
are the images); nullable numeric columns (``Int64``, ``Float32``) as numbers,
their missing values as NaN (refused). An :class:`ImageSet` of files knows
their paths (``paths``), whatever container held them.

Pixel values, by type:

- ``uint8``, and other integer types, in 0..255;
- floats in [0, 1];
- ``bool``: binary images, ``False`` is black (0) and ``True`` white (255);
- ``uint16`` arrays and tensors are 16-bit images: 0..65535 is scaled to
  0..255 (divided by 257, rounded), whatever the values, so that
  ``np.asarray(Image.open(path))`` and ``path`` give the same pixels. A
  ``uint16`` array holding 8-bit pixels needs ``X.astype(np.uint8)`` (a
  ``UserWarning`` says so when a uint16 array holds no value above 255).

PIL images and files keep their meaning: 16-bit modes (``I;16``, ``I;16B``...,
and 16-bit PNG or TIFF files) are scaled to 8 bits (divided by 257), never
clipped. Mode ``I`` (32-bit integers, which older Pillow versions also give
for 16-bit PNG files) is read per image: values in 0..255 as 8-bit pixels,
values up to 65535 as a 16-bit range (divided by 257); other values are an
error. Mode ``F`` (32-bit floats) is read per image too: values in [0, 1] are
scaled by 255, values in [0, 255] taken as 8-bit pixels; others are an error.
Mode ``1`` is binary (0 or 255).

RGBA becomes RGB (alpha dropped); grayscale stays one channel here and is
repeated to three on the device when the backbone wants three.

Refused, with a message saying what to do instead: ``numpy.ma`` masked arrays
(the mask would be ignored: fill it first, ``X.filled(0)``), object arrays of
numbers, missing paths (None, NaN), directories and other files that are no
regular file (FIFOs, devices: only looked at, never opened), broken links,
closed PIL images, sparse, ``meta``, quantized and float8 tensors, and image
files larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's decompression-bomb
guard).
"""

from __future__ import annotations

from ._dispatch import as_image_set
from ._files import ImageTooLargeError, open_image
from ._n_features import check_n_features_in, record_n_features_in
from ._set import ImageSet

__all__ = ["ImageSet", "ImageTooLargeError", "as_image_set", "check_n_features_in", "open_image",
           "record_n_features_in"]
