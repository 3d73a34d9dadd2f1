"""Heads: what turns pooled features into outputs (logits or standardised targets)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["FeatureScaler", "domain_discriminator", "grad_reverse", "make_head", "probe_head"]


def make_head(n_features, n_outputs, hidden_units=(), dropout=0.0):
    """``[Dropout -> Linear -> ReLU] * len(hidden_units) -> Dropout -> Linear``.

    Dropout layers are only inserted when ``dropout > 0``.

    Examples
    --------
    >>> from sktransfer.nn._heads import make_head
    >>> make_head(16, 3, hidden_units=(8,), dropout=0.2)
    Sequential(
      (0): Dropout(p=0.2, inplace=False)
      (1): Linear(in_features=16, out_features=8, bias=True)
      (2): ReLU()
      (3): Dropout(p=0.2, inplace=False)
      (4): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    layers = []
    width = int(n_features)
    for units in list(hidden_units) + [n_outputs]:
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, int(units)))
        width = int(units)
        layers.append(nn.ReLU())
    layers.pop()  # no activation after the outputs
    return nn.Sequential(*layers)


def probe_head(n_features, n_outputs, scaler=None, linear=None):
    """``FeatureScaler -> Linear``: the head a linear probe becomes (blank when rebuilding from a state dict).

    Examples
    --------
    >>> from sktransfer.nn._heads import probe_head
    >>> probe_head(4, 2)
    Sequential(
      (0): FeatureScaler()
      (1): Linear(in_features=4, out_features=2, bias=True)
    )
    """
    if scaler is None:
        scaler = FeatureScaler(np.zeros(n_features), np.ones(n_features))
    if linear is None:
        linear = nn.Linear(n_features, n_outputs)
    return nn.Sequential(scaler, linear)


class FeatureScaler(nn.Module):
    """``(x - mean) / scale`` with fixed buffers: the probe's standardisation inside the head.

    Keeping it in front of the head (rather than folding it into the weights)
    keeps the head's gradients well scaled while fine-tuning.

    Parameters
    ----------
    mean, scale : array-like of shape (n_features,)

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._heads import FeatureScaler
    >>> FeatureScaler([1.0, 2.0], [2.0, 4.0])(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale), dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale


def domain_discriminator(n_features, hidden_units=256):
    """``BatchNorm -> Linear -> ReLU -> Linear``: one logit per image, "is this a target-domain image?".

    The BatchNorm (without learned scale) standardises the pooled features
    over each mixed batch of source and target images, whatever their scale.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._heads import domain_discriminator
    >>> domain_discriminator(16)(torch.randn(4, 16)).shape
    torch.Size([4])
    """
    return nn.Sequential(nn.BatchNorm1d(int(n_features), affine=False), nn.Linear(int(n_features), hidden_units),
                         nn.ReLU(), nn.Linear(hidden_units, 1), nn.Flatten(0))


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coefficient):
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coefficient * grad, None


def grad_reverse(x, coefficient=1.0):
    """Identity forward; the gradient multiplied by ``-coefficient`` backward (Ganin & Lempitsky, 2015).

    Placed between the features and a domain classifier, it makes the
    encoder *maximise* the classifier's loss while the classifier minimises
    it: the features learn to hide the domain.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn._heads import grad_reverse
    >>> x = torch.ones(3, requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])
    """
    return _GradientReversal.apply(x, float(coefficient))
