"""The deletion check: does removing what a map calls important make the prediction fall?

Petsiuk et al. (2018, "RISE"): pixels are replaced by a baseline in the
order the map ranks them, most important first, and the probability of the
explained class is read after each step. A map that points at what the
network uses makes it fall fast: the area under that curve is small. A
random map is the reference every method should beat.
"""

from __future__ import annotations

import numpy as np
import torch

from .._device import on_device, resolve_device
from ..images import as_image_set, check_n_features_in
from ._checks import check_network_estimator
from ._explain import float_batches
from ._gradcam import gaussian_blur
from ._tokens import special_tokens, tokenize

__all__ = ["deletion_curve", "deletion_score"]

BASELINES = ("blur", "mean")


def deletion_curve(estimator, X, maps, *, target=None, n_steps=20, baseline="blur", random_state=0):
    """Probability of the target as the most salient pixels are deleted, step by step.

    Parameters
    ----------
    estimator : fitted classifier built on ``BackboneNetworkEstimator``
        E.g. :class:`~sktransfer.FineTunedClassifier`.
    X : images or texts
        The images (or texts) the maps explain (any form ``predict`` accepts).
    maps : ndarray of shape (n_images, H, W), list of arrays, or the Bunch ``explain`` returns
        One map per image at the image's resolution; higher means more
        important. From a Bunch, its ``target`` is used unless ``target`` is given.
        Texts: one value per token, special tokens left out (``explain``'s
        ``maps`` or ``contributions``); deleting a token takes it out of
        attention and pooling, and ``baseline`` does not apply.
    target : label, array-like of shape (n_images,) or None, default=None
        Whose probability to follow: a class of ``classes_`` (for every image,
        or one per image); None: each intact image's predicted class.
    n_steps : int, default=20
        Deletion steps; step k replaces the top k/n_steps of the pixels.
    baseline : {"blur", "mean"}, default="blur"
        What a deleted pixel becomes: the image blurred by a Gaussian of an
        eighth of its larger side (little new edge is made), or its mean colour.
    random_state : int, default=0
        Breaks ties between equal map values at random (a map that is zero
        over half the image then deletes that half in no particular order).

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
        Fraction of pixels deleted, 0 to 1.
    probabilities : ndarray of shape (n_images, n_steps + 1)
        The target's probability after each step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.inspection import deletion_curve
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0,
    ...                           augment=None, tta=0, input_shape=(8, 8), verbose=0).fit(X[:60] / 16, y[:60])
    >>> fractions, proba = deletion_curve(clf, X[:4] / 16, np.random.rand(4, 8, 8), n_steps=4)
    >>> fractions.tolist(), proba.shape
    ([0.0, 0.25, 0.5, 0.75, 1.0], (4, 5))
    """
    check_network_estimator(estimator, "deletion_curve", "a class probability to follow")
    view = estimator.target_spec_  # what the outputs mean
    if view.kind == "regression":
        raise TypeError(f"deletion_curve follows a class probability; {type(estimator).__name__} is a regressor. "
                        "Use it with a classifier.")
    if baseline not in BASELINES:
        raise ValueError(f"baseline={baseline!r} is not one of {BASELINES}.")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1; got {n_steps!r}.")
    if hasattr(maps, "maps"):  # the Bunch explain() returns
        target = maps.target if target is None else target
        maps = maps.maps
    rng = np.random.default_rng(random_state)
    if getattr(estimator.module_.encoder, "modality", "image") == "text":
        maps = list(maps)  # one array of token values per text
        curves = _text_curves(estimator, X, maps, view, view.resolve(target, len(maps)), n_steps, rng)
        return np.linspace(0.0, 1.0, n_steps + 1), curves
    check_n_features_in(estimator, X)
    images = as_image_set(X, input_shape=estimator.input_shape)
    maps = _check_maps(maps, len(images))
    chosen = view.resolve(target, len(images))
    device = resolve_device(estimator.device)
    curves = []
    # Out of a caller's inference mode before the move: it would turn the weights into inference tensors.
    with torch.inference_mode(False), on_device(estimator.module_, device) as module, torch.inference_mode():
        module.eval()
        for start, x in float_batches(images, estimator.batch_size, device):
            batch_maps = maps[start : start + len(x)]
            _check_shapes(batch_maps, x, start)
            steps = _deleted_copies(x, batch_maps, n_steps, baseline, rng)  # (n_steps + 1, B, C, H, W)
            outputs = torch.cat([module(s) for s in steps]).float().cpu().numpy()  # step-major
            outputs = outputs.reshape(n_steps + 1, len(x), -1)
            index = view.predicted(outputs[0]) if chosen is None else chosen[start : start + len(x)]
            curves.append(np.stack([view.probability(o, index) for o in outputs], axis=1))
    return np.linspace(0.0, 1.0, n_steps + 1), np.concatenate(curves)


def deletion_score(estimator, X, maps, *, target=None, n_steps=20, baseline="blur", random_state=0):
    """Area under the deletion curve, averaged over images: lower means a more faithful map.

    Parameters are those of :func:`deletion_curve`. Compare a method's score
    with that of random maps (``np.random.rand(*maps.shape)``): a map that
    means something scores clearly lower.

    Returns
    -------
    score : float
        Mean over images of the area under probability vs fraction deleted, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.inspection import deletion_score
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0,
    ...                           augment=None, tta=0, input_shape=(8, 8), verbose=0).fit(X[:60] / 16, y[:60])
    >>> score = deletion_score(clf, X[:4] / 16, clf.explain(X[:4] / 16), n_steps=4)
    >>> 0.0 <= score <= 1.0
    True
    """
    fractions, probabilities = deletion_curve(estimator, X, maps, target=target, n_steps=n_steps,
                                              baseline=baseline, random_state=random_state)
    widths = np.diff(fractions)
    areas = ((probabilities[:, 1:] + probabilities[:, :-1]) / 2 * widths).sum(axis=1)
    return float(areas.mean())


def _check_maps(maps, n):
    if isinstance(maps, np.ndarray) and maps.dtype != object:
        if maps.ndim != 3:
            raise ValueError(f"maps has shape {maps.shape}; pass one (H, W) map per image, shape (n_images, H, W).")
        maps = list(maps)
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    if len(maps) != n:
        raise ValueError(f"maps has {len(maps)} maps for {n} images; pass one map per image "
                         "(e.g. the maps explain() returned for these images).")
    return maps


def _check_shapes(maps, x, start):
    for i, m in enumerate(maps):
        if m.shape != tuple(x.shape[-2:]):
            raise ValueError(f"maps[{start + i}] has shape {m.shape} but image {start + i} is "
                             f"{x.shape[-2]}x{x.shape[-1]}; pass maps at the images' resolution (as explain() "
                             "returns them).")
        if not np.all(np.isfinite(m)):
            raise ValueError(f"maps[{start + i}] holds NaN or infinite values; pass finite maps.")


def _deleted_copies(x, maps, n_steps, baseline, rng):
    """Images with the top k/n_steps of their pixels replaced by the baseline, for k = 0..n_steps."""
    b, _, h, w = x.shape
    if baseline == "blur":
        base = gaussian_blur(x, max(h, w) / 8)
    else:
        base = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    order = np.stack([_most_important_first(m.ravel(), rng) for m in maps])
    rank = np.empty_like(order)
    rank[np.arange(b)[:, None], order] = np.arange(h * w)
    rank = torch.as_tensor(rank, device=x.device).view(b, 1, h, w)
    return [torch.where(rank < int(k), base, x) for k in _deleted_counts(h * w, n_steps)]


def _text_curves(estimator, X, maps, view, chosen, n_steps, rng):
    """Texts: each text's tokens taken out of attention and pooling in the order of its map, most important
    first (special tokens stay); the target's probability after each step."""
    texts, _, encoded = tokenize(estimator, X)
    if len(maps) != len(texts):
        raise ValueError(f"maps has {len(maps)} maps for {len(texts)} texts; pass one map per text (e.g. the "
                         "maps explain() returned for these texts).")
    device = resolve_device(estimator.device)
    curves = []
    with torch.inference_mode(False), on_device(estimator.module_, device) as module, torch.inference_mode():
        module.eval()
        for i, (ids, special) in enumerate(zip(encoded["input_ids"], special_tokens(encoded))):
            real = np.flatnonzero(~special)
            heat = np.asarray(maps[i], dtype=np.float64)
            if heat.shape != (len(real),) or not np.all(np.isfinite(heat)):
                raise ValueError(f"maps[{i}] has shape {heat.shape} (or non-finite values) but text {i} has "
                                 f"{len(real)} tokens besides the special ones; pass explain()'s maps of these "
                                 "texts, or finite values of that length.")
            order = real[_most_important_first(heat, rng)]
            masks = np.ones((n_steps + 1, len(ids)), dtype=np.int64)
            for step, k in enumerate(_deleted_counts(len(real), n_steps)):
                masks[step, order[:k]] = 0
            x = torch.as_tensor(np.stack([np.broadcast_to(ids, masks.shape), masks], axis=1), device=device)
            outputs = module(x).float().cpu().numpy()
            index = view.predicted(outputs[:1]) if chosen is None else np.full(1, chosen[i])
            curves.append(view.probability(outputs, np.repeat(index, len(outputs))))
    return np.stack(curves)


def _most_important_first(values, rng):
    """Indices of ``values`` from the highest; random jitter below the values' resolution breaks ties."""
    spread = np.ptp(values) if values.size else 0.0
    return np.argsort(-(values + rng.uniform(0, 1e-9, values.size) * max(spread, 1e-12)), kind="stable")


def _deleted_counts(n, n_steps):
    """How many of ``n`` pixels or tokens are deleted at each of the ``n_steps + 1`` steps (0 to all)."""
    return np.round(np.linspace(0, n, n_steps + 1)).astype(np.int64)
