"""The input layer's front door: ``X`` in the form a backbone's modality takes.

Each modality has one adapter that validates ``X`` once and wraps it lazily:
images today (:func:`sktransfer.images.as_image_set`); a text adapter joins
the table with the first language-model backbone.
"""

from __future__ import annotations

from .images import as_image_set

__all__ = ["MODALITIES", "as_inputs"]

#: Modality -> adapter ``(X, input_shape) -> a lazily loaded set of rows``.
MODALITIES = {"image": as_image_set}


def as_inputs(X, modality="image", *, input_shape=None):
    """``X`` validated and wrapped for a backbone that takes ``modality``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer._inputs import as_inputs
    >>> len(as_inputs(np.zeros((3, 8, 8)), "image"))
    3
    """
    if modality not in MODALITIES:
        raise ValueError(f"no input adapter for backbones that take {modality!r}; known: {sorted(MODALITIES)}.")
    return MODALITIES[modality](X, input_shape=input_shape)
