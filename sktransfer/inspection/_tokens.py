"""Token attributions for a network over a language model: how much each token moved the explained score.

Integrated gradients (Sundararajan et al., 2017) on the input embeddings:
each token's embedding is moved from a reference (the ``[PAD]`` token's
embedding, special tokens and positions kept) to its own along a straight
line, and the score's gradient is averaged along the way. The token's
attribution is that average times its embedding's distance from the
reference, so the attributions of a text add up to its score minus the
reference text's score (completeness), up to the error of the quadrature.
``"saliency"`` is one gradient at the text itself (gradient x input): one
pass instead of ``n_steps``, without completeness.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import Bunch

from .._device import on_device, resolve_device
from ..backbones import text_input_spec
from ..text import check_texts, tokenize_texts
from ._gradcam import gradients_on

__all__ = ["TEXT_METHODS", "explain_texts", "special_tokens", "tokenize"]

#: What ``explain`` computes for a text network ("auto": integrated gradients).
TEXT_METHODS = ("auto", "integrated_gradients", "saliency")
#: Points on the path from the reference to the text (midpoint rule): at 32 the shares of a text summed to
#: its score difference within 0.1% (median, Rotten Tomatoes snippets; docs/inspection.md).
N_STEPS = 32
#: Tokens per forward pass of a text's copies along the path: bounds the activations kept for the backward.
TOKENS_PER_PASS = 4096


def explain_texts(estimator, X, target, method, layer):
    """:func:`~sktransfer.inspection.explain` for a network whose backbone is a language model."""
    if method not in TEXT_METHODS:
        raise ValueError(f"method={method!r} draws maps over images; a text network is explained by one of "
                         f"{TEXT_METHODS} ('auto': integrated gradients over the input embeddings).")
    if layer != "auto":
        raise ValueError(f"layer={layer!r} picks an image map; token attributions are taken at the input "
                         "embeddings. Leave layer='auto' for texts.")
    method = "integrated_gradients" if method == "auto" else method
    texts, tokenizer, encoded = tokenize(estimator, X)
    view = estimator.target_spec_  # what the outputs mean
    chosen = view.resolve(target, len(texts))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    alphas = (np.arange(N_STEPS) + 0.5) / N_STEPS if method == "integrated_gradients" else np.ones(1)
    device = resolve_device(estimator.device)
    rows, special = [], special_tokens(encoded)
    with torch.inference_mode(False), on_device(estimator.module_, device) as module, gradients_on(module):
        embeddings = module.encoder.trunk.get_input_embeddings()
        for i, ids in enumerate(encoded["input_ids"]):
            index = None if chosen is None else int(chosen[i])
            rows.append(_attribute(module, embeddings, view, ids, ~special[i], pad_id, alphas, index, device))
    contributions = [r["contributions"] for r in rows]
    outputs = np.stack([r["outputs"] for r in rows])
    indices = np.array([r["index"] for r in rows], dtype=np.int64)
    tokens, offsets, words, spans, word_sums = [], [], [], [], []
    for i, text in enumerate(texts):
        real = ~special[i]
        ids = np.asarray(encoded["input_ids"][i])[real]
        tokens.append(tokenizer.convert_ids_to_tokens(ids.tolist()))
        if tokenizer.is_fast:
            offsets.append(np.asarray(encoded["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)[real])
            word_ids = np.asarray([-1 if w is None else w for w in encoded.word_ids(i)])[real]
            w_spans, w_sums = _words(offsets[-1], word_ids, contributions[i])
        else:  # slow tokenizers give no character offsets: each token stands as its own word
            offsets.append(None)
            w_spans, w_sums = None, contributions[i].copy()
        spans.append(w_spans)
        words.append(tokens[-1] if w_spans is None else [text[a:b] for a, b in w_spans])
        word_sums.append(w_sums)
    return Bunch(
        texts=texts, tokens=tokens, offsets=offsets, contributions=contributions,
        maps=[_positive_share(c) for c in contributions], words=words, word_spans=spans,
        word_contributions=word_sums, score=np.array([r["score"] for r in rows]),
        baseline_score=np.array([r["baseline_score"] for r in rows]), target=view.labels[indices],
        probability=view.probability(outputs, indices), prediction=view.prediction(outputs, indices),
        method=method, layer="embeddings")


def tokenize(estimator, X):
    """``(texts, tokenizer, encoding)``: ``X`` tokenised as the fitted network reads it, with the special
    tokens marked and, from a fast tokenizer, each token's characters."""
    texts = check_texts(X)
    tokenizer, max_length = text_input_spec(estimator.arch_spec_.backbone)
    encoded = tokenize_texts(texts, tokenizer, max_length, return_special_tokens_mask=True,
                             return_offsets_mapping=bool(tokenizer.is_fast))
    return texts, tokenizer, encoded


def special_tokens(encoded):
    """Per text, a bool array: which of its tokens are special ([CLS], [SEP]); explanations leave them out."""
    return [np.asarray(mask, dtype=bool) for mask in encoded["special_tokens_mask"]]


def _attribute(module, embeddings, view, ids, real, pad_id, alphas, index, device):
    """One text's attributions: its embeddings moved from the reference towards it, at each of ``alphas``.

    The copies of the text go through the network a few at a time (at most
    :data:`TOKENS_PER_PASS` tokens), so a long text on a large model does
    not hold 33 copies' activations at once.
    """
    n_tokens = len(ids)
    x = torch.as_tensor(np.stack([ids, np.ones(n_tokens, dtype=np.int64)]), dtype=torch.int64, device=device)[None]
    with torch.no_grad():
        full = module(x).float()
    index = int(view.predicted(full.cpu().numpy())[0]) if index is None else index
    target = torch.tensor([index], device=device)
    reference = torch.as_tensor(real, device=device)
    pad = embeddings.weight[pad_id].detach()
    path = np.concatenate([alphas, [0.0]])  # the last copy: the reference text itself
    grad_sum, baseline, captured = 0.0, None, {}

    def hook(mod, args, out):
        base = torch.where(reference[None, :, None], pad.to(out.dtype), out.detach())
        moved = out.detach() - base  # zero at special tokens: they stay what they are
        scale = torch.as_tensor(captured["alphas"], dtype=out.dtype, device=out.device)[:, None, None]
        captured.update(leaf=(base + scale * moved).requires_grad_(True), moved=moved[0])
        return captured["leaf"]

    per_pass = max(1, TOKENS_PER_PASS // max(1, n_tokens))
    handle = embeddings.register_forward_hook(hook)
    try:
        for start in range(0, len(path), per_pass):
            captured["alphas"] = part = path[start : start + per_pass]
            scores = view.score(module(x.expand(len(part), 2, n_tokens)).float(), target.expand(len(part)))
            on_path = torch.as_tensor(start + np.arange(len(part)) < len(alphas), device=device)
            (grad,) = torch.autograd.grad(scores[on_path].sum(), captured["leaf"])
            grad_sum = grad_sum + grad.float().sum(dim=0)
            if not on_path[-1]:
                baseline = float(scores[-1].detach())
    finally:
        handle.remove()
    contributions = (grad_sum / len(alphas) * captured["moved"].float()).sum(dim=-1).cpu().numpy()[real]
    return dict(contributions=contributions.astype(np.float32), outputs=full[0].cpu().numpy(), index=index,
                score=float(view.score(full, target)[0]), baseline_score=baseline)


def _words(offsets, word_ids, contributions):
    """Character spans of the words the tokens make (a word's pieces share a word id) and each word's sum."""
    spans, sums = [], []
    for k, word in enumerate(word_ids):
        if k and word == word_ids[k - 1] and word >= 0:
            spans[-1][1] = int(offsets[k][1])
            sums[-1] += float(contributions[k])
        else:
            spans.append([int(offsets[k][0]), int(offsets[k][1])])
            sums.append(float(contributions[k]))
    return np.asarray(spans, dtype=np.int64).reshape(-1, 2), np.asarray(sums, dtype=np.float32)


def _positive_share(contributions):
    """Each token's positive contribution over the text's largest: [0, 1], zeros when nothing speaks for the target."""
    positive = np.maximum(contributions, 0.0)
    top = positive.max(initial=0.0)
    return (positive / top if top > 0 else positive).astype(np.float32)
