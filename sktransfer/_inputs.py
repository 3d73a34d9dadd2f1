"""The input layer's front door: ``X`` in the form a backbone's modality takes.

Each modality has one adapter that validates ``X`` once and wraps it lazily:
images (:func:`sktransfer.images.as_image_set`) and texts
(:func:`sktransfer.text.as_text_set`, tokenised by the backbone's tokenizer).
"""

from __future__ import annotations

import numpy as np

from .images import as_image_set
from .text import as_text_set

__all__ = ["MODALITIES", "as_inputs", "take_rows"]

def _texts(X, *, input_shape=None, tokenizer=None):
    if input_shape is not None:
        raise ValueError(f"input_shape={input_shape!r} describes flattened images; a text backbone takes texts: "
                         "leave input_shape=None.")
    return as_text_set(X, *tokenizer)


def _images(X, *, input_shape=None, tokenizer=None):
    return as_image_set(X, input_shape=input_shape)


#: Modality -> adapter ``(X, input_shape=, tokenizer=) -> a lazily loaded set of rows``.
MODALITIES = {"image": _images, "text": _texts}


def as_inputs(X, modality="image", *, input_shape=None, tokenizer=None):
    """``X`` validated and wrapped for a backbone that takes ``modality``.

    ``tokenizer``: ``(tokenizer, max_length)`` for text (what
    :func:`sktransfer.backbones.backbone_inputs` passes for a text backbone).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer._inputs import as_inputs
    >>> len(as_inputs(np.zeros((3, 8, 8)), "image"))
    3
    """
    if modality not in MODALITIES:
        raise ValueError(f"no input adapter for backbones that take {modality!r}; known: {sorted(MODALITIES)}.")
    return MODALITIES[modality](X, input_shape=input_shape, tokenizer=tokenizer)


def take_rows(X, positions):
    """The rows of ``X`` at integer ``positions``, in ``X``'s own kind: an array, a tensor, a pandas object
    (by position, never by index label or column), or a list of images or paths.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sktransfer._inputs import take_rows
    >>> take_rows(np.arange(5), [1, 3]).tolist(), take_rows(pd.Series([7, 8, 9], index=[2, 1, 0]), [0]).tolist()
    ([1, 3], [7])
    >>> take_rows(("a.png", "b.png"), np.array([1]))
    ['b.png']
    """
    positions = np.asarray(positions, dtype=np.intp)
    if hasattr(X, "iloc"):  # pandas: X[...] would select by index label (a Series) or by column (a DataFrame)
        return X.iloc[positions]
    if hasattr(X, "shape") and hasattr(X, "__getitem__"):
        return X[positions]
    return [X[i] for i in positions]
