"""Arrays of an ``.npz`` file read safely: no unpickling, and the file's own ``input_shape`` checked."""

from __future__ import annotations

__all__ = ["npz_array", "stored_shape"]


def stored_shape(array, path):
    """The ``input_shape`` array of an .npz as a tuple of 2 or 3 positive ints, or a ValueError naming the fix.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark._npz import stored_shape
    >>> stored_shape(np.array([28, 28]), "data.npz")
    (28, 28)
    """
    values = array.ravel()
    if array.dtype.kind in "iu" and len(values) in (2, 3) and (values > 0).all():
        return tuple(int(v) for v in values)
    raise ValueError(f"{str(path)!r}: its input_shape array {array.tolist()!r} is not (H, W) or (H, W, C) in "
                     "positive ints. Save it as e.g. input_shape=np.array([28, 28]), or pass --input-shape H W.")


def npz_array(data, key, path):
    """``data[key]``; an object array (which only unpickling could read) is an error naming the fix.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sktransfer.benchmark._npz import npz_array
    >>> buffer = io.BytesIO()
    >>> np.savez(buffer, X=np.zeros(2), y=np.array([None, 1], dtype=object))
    >>> _ = buffer.seek(0)
    >>> data = np.load(buffer, allow_pickle=False)
    >>> npz_array(data, "X", "data.npz")
    array([0., 0.])
    >>> npz_array(data, "y", "data.npz")
    Traceback (most recent call last):
    ...
    ValueError: 'data.npz': array 'y' was saved with dtype=object ...
    """
    try:
        return data[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise ValueError(f"Cannot read array {key!r} of {str(path)!r}: {exc}") from exc
        raise ValueError(  # loading pickles from a file can run code: never allowed here
            f"{str(path)!r}: array {key!r} was saved with dtype=object (a list of arrays, or mixed values), "
            "which would need unpickling to read. Save a numeric or string array instead: images as one "
            "array, e.g. X=np.stack(images) (uint8 or floats in [0, 1]), labels as ints or strings, e.g. "
            "y=np.asarray(labels, dtype=str); or use an image folder for images of different sizes."
        ) from exc
