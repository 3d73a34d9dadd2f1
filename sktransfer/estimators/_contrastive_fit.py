"""``schedule="contrastive"``: SetFit's recipe on the estimator's own network (text backbones).

The encoder learns from pairs of labelled texts
(:mod:`sktransfer.training._contrastive`), then the probe is fitted anew on
the embeddings it gives, and becomes the head: the fitted network is the
adapted encoder and a linear head, as after LP-FT.
"""

from __future__ import annotations

import numpy as np
from skorch.history import History

from .._device import on_device
from ..backbones import top_blocks
from ..nn import probe_head
from ..training import CONTRASTIVE_ITERATIONS, encode_images, handle_interrupt, optimizer_keywords, train_contrastive
from ._params import nested_params

__all__ = ["check_contrastive", "contrastive_fit", "resolve_schedule"]


def resolve_schedule(estimator, spec):
    """``schedule="auto"``: ``"contrastive"`` for single-label classes of texts with a linear head, else ``"lp-ft"``.

    Measured on Rotten Tomatoes at 8 labels per class (docs/text.md): the
    contrastive stage beat LP-FT's cross-entropy fine-tuning, which ended at
    or below its own probe.
    """
    if estimator.schedule != "auto":
        return estimator.schedule
    text = estimator._modality == "text" and getattr(spec, "kind", None) == "softmax"
    return "contrastive" if text and not tuple(estimator.hidden_units or ()) else "lp-ft"


def check_contrastive(estimator, spec, modality):
    """Raise a ValueError when ``schedule="contrastive"`` cannot apply to this estimator, task or backbone."""
    if estimator.schedule != "contrastive":
        return
    name = type(estimator).__name__
    if modality != "text":
        raise ValueError(f"schedule='contrastive' trains a language model on pairs of texts; {name}'s backbone "
                         f"{estimator.backbone!r} takes images: use schedule='lp-ft'.")
    if getattr(spec, "kind", None) != "softmax":
        raise ValueError(f"schedule='contrastive' learns from pairs of texts of the same or another class; {name} "
                         "with these targets (multi-label or continuous) has no classes: use schedule='lp-ft'.")
    if tuple(estimator.hidden_units or ()):
        raise ValueError("schedule='contrastive' ends with a linear probe as its head; set hidden_units=() or use "
                         "schedule='lp-ft'.")


def contrastive_fit(estimator, built, data, spec, device, lr, freezing):
    """Train ``built.module``'s encoder on pairs, then refit its head as a probe; return ``(history, interrupted)``.

    The blocks that train are ``trainable_blocks``'s; the top one at ``lr``,
    each lower one at ``lr_decay`` times the one above (the skorch path's
    layer-wise rates, less the head, which the probe replaces).
    """
    module = built.module
    freezing.apply(module, gradual=False)  # one pass over the pairs: no epochs to unfreeze block by block
    labels = data.targets[data.train_idx]
    texts = data.images.subset(data.train_idx)
    rng = np.random.default_rng(int(data.rng.integers(2**31 - 1)))
    with on_device(module.train(), device):  # frozen blocks stay in eval mode (BackboneNetwork.train)
        optimizer = _optimizer(estimator, module, freezing, lr)
        losses, interrupted = train_contrastive(
            module.encoder, texts, labels, optimizer=optimizer, batch_size=estimator.batch_size, device=device,
            rng=rng, n_iterations=CONTRASTIVE_ITERATIONS, verbose=estimator.verbose)
        module.eval()
        features = encode_images(module.encoder, data.images, device, batch_size=estimator.batch_size,
                                 verbose=estimator.verbose, indices=data.train_idx)
    module.zero_grad(set_to_none=True)
    scaler, linear, record = estimator._fit_probe(features, labels, spec)
    module.head = probe_head(features.shape[1], spec.n_outputs, scaler, linear)
    history = History()
    history.new_epoch()
    history.record("epoch", 1)
    history.record("n_steps", len(losses))
    history.record("contrastive_loss", float(np.mean(losses)) if losses else float("nan"))
    for key, value in record.items():
        history.record(key, value)
    if interrupted:
        handle_interrupt(history, 1, estimator.on_interrupt, type(estimator).__name__)
    return history, interrupted


def _optimizer(estimator, module, freezing, lr):
    """The estimator's optimizer over the trainable blocks, at layer-wise rates from ``lr`` at the top."""
    named = dict(module.encoder.trunk.named_parameters())
    blocks = list(freezing.blocks) if freezing.all_trunk else top_blocks(freezing.blocks, freezing.n_trainable)
    groups = []
    for k, block in enumerate(reversed(blocks)):
        params = [named[p] for p in block.params if p in named and named[p].requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * estimator.lr_decay**k})
    accepted = optimizer_keywords(estimator.optimizer)
    keywords = {"weight_decay": estimator.weight_decay} if accepted is None or "weight_decay" in accepted else {}
    keywords.update({k.split("__", 1)[1]: v for k, v in nested_params(estimator).items()
                     if k.startswith("optimizer__")})
    return estimator.optimizer(groups, lr=lr, **keywords)
