"""The text side of the one inference path: token ids -> language model -> pooled embeddings.

:class:`TextEncoder` takes the batches a :class:`~sktransfer.text.TextSet`
yields (``int64 (B, 2, T)``: ids and attention mask) and pools the chosen
hidden states over the real tokens only, as sentence-transformers' mean
pooling does; it stands wherever an :class:`ImageEncoder` stands (the probe,
the fine-tuned network, the extractor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._encoder import ImageEncoder

__all__ = ["TEXT_POOLINGS", "TextEncoder", "make_encoder", "masked_pool"]

#: Poolings over the real tokens: the mean (the sentence-transformers default), the max, or both.
TEXT_POOLINGS = ("avg", "max", "avgmax")


def masked_pool(states, mask, pooling):
    """Pool token states ``(B, T, D)`` over the tokens where ``mask`` is 1.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._text_encoder import masked_pool
    >>> states = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> masked_pool(states, torch.tensor([[1, 1, 0]]), "avg").tolist()
    [[2.0]]
    """
    states = states.float()
    keep = mask.unsqueeze(-1).to(states.dtype)
    mean = (states * keep).sum(1) / keep.sum(1).clamp(min=1e-9)
    if pooling == "avg":
        return mean
    top = states.masked_fill(keep == 0, torch.finfo(states.dtype).min).amax(1)
    if pooling == "max":
        return top
    if pooling == "avgmax":
        return torch.cat([mean, top], dim=1)
    raise ValueError(f"pooling={pooling!r} is not one of {TEXT_POOLINGS} for a text backbone.")


class TextEncoder(nn.Module):
    """Run a language model on padded token ids and pool its hidden states.

    Parameters
    ----------
    backbone : TextBackbone
        Its trunk becomes this module's ``trunk`` (not copied).
    layers : list of int or None, default=None
        Blocks whose pooled states are concatenated (block 0: the
        embeddings, block k: layer k - 1's output); None: the last layer,
        L2-normalised when the backbone's own pooling normalises.
    pooling : str, default="avg"
        One of ``TEXT_POOLINGS``.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone, text_input_spec
    >>> from sktransfer.nn import TextEncoder
    >>> from sktransfer.text import as_text_set
    >>> texts = as_text_set(["a fine film", "dull"], *text_input_spec("all-MiniLM-L6-v2"))
    >>> encoder = TextEncoder(get_backbone("all-MiniLM-L6-v2")).eval()
    >>> encoder(next(texts.iter_batches(2))).shape
    torch.Size([2, 384])
    """

    modality = "text"
    #: What image-batch movers read (``batch_to_device``); a text batch is moved as it is.
    image_size = ()
    in_chans = 0

    def __init__(self, backbone, layers=None, pooling="avg"):
        super().__init__()
        if pooling not in TEXT_POOLINGS:
            raise ValueError(f"pooling={pooling!r} is not one of {TEXT_POOLINGS} for a text backbone.")
        self.trunk = backbone.trunk
        self.layers = None if layers is None else list(layers)
        self.pooling = pooling
        self.normalize = bool(backbone.normalize) and layers is None

    def to_unit_range(self, x):
        """Token ids are no images: nothing to convert (image code paths call this)."""
        return x

    def forward(self, x):
        ids, mask = x[:, 0], x[:, 1]
        out = self.trunk(input_ids=ids, attention_mask=mask, output_hidden_states=self.layers is not None)
        states = [out.last_hidden_state] if self.layers is None else [out.hidden_states[i] for i in self.layers]
        pooled = torch.cat([masked_pool(s, mask, self.pooling) for s in states], dim=1)
        return F.normalize(pooled, dim=1) if self.normalize else pooled

    def blank_input(self):
        """One text of two tokens, for a forward pass that measures the output width."""
        return torch.tensor([[[0, 0], [1, 1]]], dtype=torch.int64)


def make_encoder(backbone, image_size, layers=None, pooling="avg"):
    """The encoder a backbone's modality takes: a :class:`TextEncoder` or an :class:`ImageEncoder`.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import make_encoder
    >>> type(make_encoder(get_backbone("timm/test_resnet", weights=None), (32, 32))).__name__
    'ImageEncoder'
    """
    if getattr(backbone, "modality", "image") == "text":
        return TextEncoder(backbone, layers, pooling)
    return ImageEncoder(backbone, image_size, layers, pooling)
