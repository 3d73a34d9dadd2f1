"""The contrastive stage for few labels (SetFit, Tunstall et al. 2022): pairs of labelled rows teach the encoder.

With 8 labelled texts per class, a classification loss sees 16 examples and
overfits at once; pairs of them are many more (a text and another of its
class should embed close, a text and one of another class apart). The
encoder is trained so that the cosine similarity of each pair's embeddings
approaches 1 for a same-class pair and 0 otherwise (the cosine-similarity
loss SetFit uses); then the probe (a logistic regression) is fitted anew on
the embeddings the encoder now gives.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .._device import autocast
from .._progress import progress_bar
from .._tensors import batch_to_device
from ._optim import scaled_rates

__all__ = ["CONTRASTIVE_ITERATIONS", "contrastive_pairs", "train_contrastive"]

#: Pairs per labelled row: one same-class and one other-class pair per iteration (SetFit's
#: ``num_iterations`` of its first release).
CONTRASTIVE_ITERATIONS = 20

#: Texts per forward pass on CPU. A step's texts are sorted by length and encoded this many at a
#: time, so a short text is not padded to the longest of the step: the loss is the same, and a
#: step of 32 pairs took 1.9 s instead of 3.3 s on Rotten Tomatoes and 6.9 s instead of 26 s on
#: the plot summaries of ``subj`` (MiniLM, one thread; docs/text.md). On CUDA padding costs
#: little beside the launches, so the step stays one batch.
CPU_TEXTS_PER_PASS = 8


def contrastive_pairs(labels, n_iterations, rng):
    """``(first, second, similarity)`` arrays: for each row and iteration, a same-class and an other-class pair.

    A row whose class has no other member gets only its other-class pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.training._contrastive import contrastive_pairs
    >>> a, b, sim = contrastive_pairs(np.array([0, 0, 1, 1]), 2, np.random.default_rng(0))
    >>> len(a), sorted(set(sim.tolist()))
    (16, [0.0, 1.0])
    >>> bool(np.all((np.array([0, 0, 1, 1])[a] == np.array([0, 0, 1, 1])[b]) == (sim == 1)))
    True
    """
    labels = np.asarray(labels)
    members = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    first, second, similarity = [], [], []
    for _ in range(n_iterations):
        for i, label in enumerate(labels):
            same = members[label][members[label] != i]
            if len(same):
                first.append(i), second.append(rng.choice(same)), similarity.append(1.0)
            other = np.flatnonzero(labels != label)
            if len(other):
                first.append(i), second.append(rng.choice(other)), similarity.append(0.0)
    return np.array(first, dtype=np.int64), np.array(second, dtype=np.int64), np.array(similarity, dtype=np.float32)


def train_contrastive(encoder, texts, labels, *, optimizer, batch_size, device, rng, n_iterations, verbose=0):
    """Train ``encoder`` (on ``device``, in the training mode the caller set) on pairs of ``texts`` (a TextSet) with the cosine-similarity loss.

    One pass over the shuffled pairs, ``batch_size`` pairs per step, with
    the learning rate warmed up over the first tenth of the steps and then
    decayed linearly to 0. Returns ``(losses per step, interrupted)``: a
    Ctrl-C ends the stage where it is and says so.
    """
    first, second, similarity = contrastive_pairs(labels, n_iterations, rng)
    order = rng.permutation(len(first))
    n_steps = math.ceil(len(order) / batch_size)
    warmup = max(1, n_steps // 10)
    losses, interrupted = [], False
    with progress_bar(n_steps, verbose, "contrastive pairs") as bar, scaled_rates(optimizer) as scale:
        try:
            for step in range(n_steps):
                scale((step + 1) / warmup if step < warmup else (n_steps - step) / max(1, n_steps - warmup))
                rows = order[step * batch_size : (step + 1) * batch_size]
                losses.append(_step(encoder, texts, first[rows], second[rows], similarity[rows], optimizer, device))
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:
            interrupted = True
    return losses, interrupted


def _step(encoder, texts, first, second, similarity, optimizer, device):
    """One optimizer step on a batch of pairs."""
    u, v = _embed(encoder, texts, np.concatenate([first, second]), device).chunk(2)
    target = torch.as_tensor(similarity, device=device)
    loss = F.mse_loss(F.cosine_similarity(u, v), target)
    if not torch.isfinite(loss):
        raise FloatingPointError("the contrastive stage diverged (a non-finite loss); lower lr.")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def _embed(encoder, texts, rows, device):
    """Embeddings of the texts at ``rows``, in that order, encoded in passes of texts of similar length."""
    by_length = np.argsort(texts.lengths[rows], kind="stable")
    per_pass = CPU_TEXTS_PER_PASS if device.type == "cpu" else len(rows)
    parts = []
    for start in range(0, len(rows), per_pass):
        batch = texts.load(rows[by_length[start : start + per_pass]])
        x = batch_to_device(batch, device, encoder.image_size, encoder.in_chans)
        with autocast(device):
            parts.append(encoder(x).float())
    return torch.cat(parts)[torch.as_tensor(np.argsort(by_length), device=device)]
