"""The TextSet: texts tokenised once, read in padded batches of token ids and attention masks."""

from __future__ import annotations

import numpy as np
import torch

from ._check import check_texts

__all__ = ["TextSet", "as_text_set"]


class TextSet:
    """Texts as token ids, read batch by batch with dynamic padding.

    Build one with :func:`as_text_set`. A batch of ``B`` texts is one
    ``int64`` tensor ``(B, 2, T)``: ``[:, 0]`` the token ids, ``[:, 1]``
    the attention mask, ``T`` the longest text of the batch (never the
    model's maximum: short texts cost short batches).

    Parameters
    ----------
    texts : list of str
    ids : list of ndarray
        Each text's token ids, special tokens included, truncated.
    pad_id : int
        The tokenizer's padding id.

    Examples
    --------
    >>> from sktransfer.text import TextSet
    >>> import numpy as np
    >>> texts = TextSet(["a", "b c"], [np.array([1, 5, 2]), np.array([1, 6, 7, 2])], pad_id=0)
    >>> next(texts.iter_batches(2))[:, 0].tolist()
    [[1, 5, 2, 0], [1, 6, 7, 2]]
    """

    modality = "text"
    kind = "text"
    paths = None
    image_shape = None
    channels = None

    def __init__(self, texts, ids, pad_id):
        self.texts = list(texts)
        self.ids = list(ids)
        self.pad_id = int(pad_id)
        self.lengths = np.array([len(i) for i in self.ids], dtype=np.int64)

    def __len__(self):
        return len(self.ids)

    def subset(self, indices):
        """The texts at ``indices`` as a :class:`TextSet` (no re-tokenisation)."""
        indices = np.asarray(indices, dtype=np.int64)
        return TextSet([self.texts[i] for i in indices], [self.ids[i] for i in indices], self.pad_id)

    def load(self, indices):
        """The texts at ``indices`` as one padded ``int64`` tensor ``(B, 2, T)``."""
        rows = [self.ids[i] for i in np.asarray(indices, dtype=np.int64)]
        width = max(len(r) for r in rows)
        batch = torch.full((len(rows), 2, width), self.pad_id, dtype=torch.int64)
        batch[:, 1] = 0
        for k, row in enumerate(rows):
            batch[k, 0, : len(row)] = torch.from_numpy(np.asarray(row, dtype=np.int64))
            batch[k, 1, : len(row)] = 1
        return batch

    def iter_batches(self, batch_size, indices=None, prefetch=None):
        """Padded batches of the texts at ``indices`` (all when None), in that order.

        ``prefetch`` is accepted for the image sets' signature; tokens need no reading.
        """
        if indices is None:
            indices = np.arange(len(self))
        for start in range(0, len(indices), batch_size):
            yield self.load(indices[start : start + batch_size])

    def inference_batches(self, batch_size, indices=None):
        """``(positions, batch)`` pairs covering ``indices`` in order of length.

        Inference sorts by length so each batch pads its texts to similar
        lengths; ``positions`` say where each row of the batch goes in the
        output (0 .. len(indices) - 1).
        """
        indices = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        order = np.argsort(-self.lengths[indices], kind="stable")
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            yield positions, self.load(indices[positions])

    def typical_shape(self):
        """None: texts have no image shape (the image recipes' rules never read it)."""
        return None


def as_text_set(X, tokenizer, max_length):
    """Validate texts and tokenise them once (with truncation to ``max_length`` tokens).

    Parameters
    ----------
    X : list, tuple, 1-D ndarray or pandas Series of str
        See :func:`check_texts` for the rules.
    tokenizer : transformers tokenizer
        Called on the list of texts; its ``pad_token_id`` pads batches.
    max_length : int
        Tokens kept per text, special tokens included.

    Returns
    -------
    texts : TextSet

    Examples
    --------
    >>> from transformers import AutoTokenizer
    >>> from sktransfer.backbones import text_input_spec
    >>> from sktransfer.text import as_text_set
    >>> tokenizer, max_length = text_input_spec("all-MiniLM-L6-v2")
    >>> texts = as_text_set(["a fine film", "dull"], tokenizer, max_length)
    >>> len(texts), next(texts.iter_batches(2)).shape
    (2, torch.Size([2, 2, 5]))
    """
    texts = check_texts(X)
    encoded = tokenize_texts(texts, tokenizer, max_length)["input_ids"]
    ids = [np.asarray(row, dtype=np.int32) for row in encoded]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TextSet(texts, ids, pad_id)


def tokenize_texts(texts, tokenizer, max_length, **options):
    """The tokenizer's encoding of checked texts, cut as the networks read them: special tokens added, at
    most ``max_length`` tokens. ``options`` ask for more (offsets, the special tokens' mask).

    Every reader of texts calls the tokenizer through here, so an explanation
    sees the tokens that ``predict`` sees.

    Examples
    --------
    >>> from sktransfer.backbones import text_input_spec
    >>> from sktransfer.text import tokenize_texts
    >>> tokenizer, max_length = text_input_spec("all-MiniLM-L6-v2")
    >>> tokenize_texts(["a fine film"], tokenizer, 4, return_special_tokens_mask=True)["special_tokens_mask"]
    [[1, 0, 0, 1]]
    """
    return tokenizer(list(texts), truncation=True, max_length=int(max_length), add_special_tokens=True,
                     return_attention_mask=False, return_token_type_ids=False, **options)
