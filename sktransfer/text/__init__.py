"""The text input layer: texts validated once, tokenised once, batched with dynamic padding.

A language-model backbone takes token ids; :func:`as_text_set` turns a list,
1-D array or pandas Series of ``str`` into a :class:`TextSet`, whose batches
are ``int64`` tensors ``(B, 2, T)``: the token ids and the attention mask of
``B`` texts padded to the longest of them. Everything downstream (the
probe, training, prediction) moves batches of this one tensor, as it moves
uint8 image batches.
"""

from ._check import check_texts
from ._set import TextSet, as_text_set, tokenize_texts

__all__ = ["TextSet", "as_text_set", "check_texts", "tokenize_texts"]
