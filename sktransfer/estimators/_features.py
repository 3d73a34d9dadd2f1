"""PretrainedFeatureExtractor: images in, frozen-backbone features out."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, check_memory

from .._auto import auto_image_size, extractor_layers, layer_candidates
from .._device import cpu_copy, cpu_state_dict, on_device, resolve_device, seeded
from .._files import check_writable_folder
from .._progress import progress_bar
from .._validation import as_label_array, resolve_image_size, unlabeled_mask
from ..backbones import Backbone, backbone_inputs, backbone_modality, block_indices, build_backbone
from ..images import ImageSet, check_n_features_in, record_n_features_in
from ..nn import POOLINGS, encode_batches, feature_width, make_encoder
from ..runtimes import RUNTIMES, NetworkRuntime, check_runtime, placed
from ..training import choose_layers, logistic_probe, multilabel_probe, ridge_probe
from ._modality import check_text_params
from ._params import check_int_params


def reproducible_weights(backbone_param, weights):
    """True when the fitted weights can be rebuilt from the name alone (public weights)."""
    return isinstance(backbone_param, str) and weights is not None


class PretrainedFeatureExtractor(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Turn images into features with a frozen, pretrained backbone.

    The backbone runs in eval mode under ``torch.inference_mode()``, batch by
    batch; images are resized with antialiasing and normalised on the device.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        A name from :func:`sktransfer.backbones.list_backbones`
        (``"efficientnet_lite0"`` works offline), ``"timm/<model>"``,
        ``"torchvision/<model>"``, or your own module.
    weights : str or None, default="default"
        ``"default"`` for pretrained weights, None for random initialisation.
    layer : "auto", int, str, list or None, default="auto"
        Which block's output to take: None for the final features, a block
        index (negative counts from the top) or block name, or a list of them
        whose pooled features are concatenated (multi-scale features).
        ``"auto"`` decides from what :meth:`fit` is given. With ``y`` (as in
        a ``Pipeline`` or ``cross_val_score``), as
        :class:`FineTunedClassifier`'s ``layer="auto"`` does: among the pooled
        mid-level blocks and the final features (only the former below
        128 px, ``sktransfer._auto.layer_candidates``), the one whose linear
        probe scores best by 3-fold cross-validation on the training images
        (``probe_scores_``; ties go to the mid-level blocks). The probe is a
        standardised logistic regression (C=1, stratified folds) for class
        labels, whose rows labelled -1 (unlabelled) are left out; one per
        label for a 0/1 label matrix; ridge (``RidgeCV``, unstratified) for
        continuous targets. Without ``y``: pooled mid-level blocks for small
        images (larger side under 64 px,
        ``sktransfer._auto.EXTRACTOR_SMALL_IMAGE``: digits, glyphs,
        thumbnails), the final features otherwise. Measured on
        scikit-learn's digits at 32 px with a logistic regression and 5
        labels per class: final features 0.61, mid-level blocks 0.92, raw
        pixels 0.86; ImageNet's top blocks describe objects in photographs,
        not strokes in an 8x8 glyph.
    pooling : {"avg", "max", "avgmax", "gem", "none"}, default="avg"
        How a feature map becomes a vector: average, max, both concatenated,
        generalised mean (p=3), or "none" to flatten the map.
    image_size : "auto", int, tuple of int or None, default="auto"
        Size images are resized to. ``"auto"``, as in
        :class:`FineTunedClassifier`: the larger side of the images given to
        :meth:`fit`, rounded up to a multiple of 32, within 32 px and the
        backbone's default (8x8 digits: 32 px; 160 px photographs: 160 px,
        not 224); a backbone that takes only one size (ViT) gets that size.
        None: the backbone's default.
    batch_size : int, default=64
        Images per forward pass.
    device : str, default="auto"
        "auto" picks CUDA when available, else CPU.
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array, e.g. ``(8, 8)`` for scikit-learn's digits.
    memory : str, joblib.Memory or None, default=None
        Cache features on disk: the same images through the same backbone,
        weights, layer, pooling and size are computed once, e.g. across the
        folds and grid points of a search over a downstream classifier. The
        folder must be writable (checked in :meth:`fit`). Like any joblib
        cache it holds pickles: open only caches you wrote yourself.
    file_key : {"stat", "content"}, default="stat"
        How ``memory`` recognises image *files* it has seen: by path, size
        and modification time ("stat": free, but a file rewritten within the
        file system's time resolution with the same size serves stale
        features), or by a SHA-256 of each file's bytes ("content": always
        right, at the cost of reading every file once more per transform).
    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation of ``weights=None``: with an int,
        every fit (and every clone's fit) builds the same network, so
        features are reproducible and ``memory`` hits across clones. Unused
        with pretrained weights.
    verbose : int, default=1
        1 shows a progress bar on long transforms when writing to a terminal;
        0 is silent.
    runtime : {"torch", "onnx", "openvino"}, default="torch"
        What :meth:`transform` runs the backbone in: torch, or the encoder
        exported once to ONNX and run by ONNX Runtime or OpenVINO (the
        ``onnx`` and ``openvino`` extras; 3-4x faster on CPU, features equal
        to 1e-4; see docs/deployment.md).

    Attributes
    ----------
    backbone_ : Backbone
        The loaded backbone.
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    layers_ : list of int or None
        Block indices whose pooled features are concatenated; None for the
        final output. As ``layer`` gave, or as ``layer="auto"`` chose.
    probe_scores_ : dict of str to float or None
        With ``layer="auto"`` and ``y``: each candidate's (``"final"``,
        ``"mid"``) cross-validated probe score (accuracy for labels, R² for
        continuous targets; NaN when nothing was validated: a single
        candidate, or a class with a single image). None otherwise.
    device_ : torch.device
        Where :meth:`transform` computes.
    n_features_in_ : int
        Only set when ``X`` in :meth:`fit` is a flattened 2-D array: its number
        of columns (scikit-learn's meaning of the word). Images given as
        ``(N, H, W[, C])`` arrays, lists or paths have no "features in".

    See Also
    --------
    FineTunedClassifier : trains the top blocks of the backbone too.

    Notes
    -----
    ``fit`` loads the backbone; the network is never trained. With
    ``layer="auto"`` and ``y`` it also computes each candidate's features of
    the labelled images and cross-validates a linear probe on them, and
    :meth:`fit_transform` then returns the chosen candidate's features
    without computing them again (with ``runtime="torch"`` and no
    ``memory``). Pickles hold the configuration, not a copy of public
    weights (random-init and custom weights are kept).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> X = load_digits().data[:10] / 16.0
    >>> fx = PretrainedFeatureExtractor(image_size=32, input_shape=(8, 8), verbose=0)
    >>> fx.fit_transform(X).shape  # layer="auto": small images, mid-level blocks [3, 4, 5]
    (10, 232)
    >>> fx.set_params(layer=None).fit_transform(X).shape  # the final features
    (10, 1280)

    With labels, as in a ``Pipeline``, ``"auto"`` chooses as
    :class:`FineTunedClassifier` does (below 128 px only the mid-level
    blocks are candidates, so nothing needs validating here):

    >>> y = load_digits().target[:10]
    >>> fx = PretrainedFeatureExtractor(input_shape=(8, 8), verbose=0).fit(X, y)
    >>> fx.image_size_, fx.layers_, fx.probe_scores_
    ((32, 32), [3, 4, 5], {'mid': nan})
    """

    _parameter_constraints = {
        "backbone": [str, Backbone, torch.nn.Module, HasMethods(["to_backbone"])],
        "weights": [str, None],
        "layer": [StrOptions({"auto"}), Integral, str, list, tuple, None],
        "pooling": [StrOptions(set(POOLINGS))],
        "image_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "input_shape": [tuple, list, None],
        "memory": [str, os.PathLike, HasMethods(["cache"]), None],
        "file_key": [StrOptions({"stat", "content"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "runtime": [StrOptions(set(RUNTIMES))],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        layer="auto",
        pooling="avg",
        image_size="auto",
        batch_size=64,
        device="auto",
        input_shape=None,
        memory=None,
        file_key="stat",
        random_state=None,
        verbose=1,
        runtime="torch",
    ):
        self.backbone = backbone
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.image_size = image_size
        self.batch_size = batch_size
        self.device = device
        self.input_shape = input_shape
        self.memory = memory
        self.file_key = file_key
        self.random_state = random_state
        self.verbose = verbose
        self.runtime = runtime

    def fit(self, X, y=None):
        """Load the backbone and check ``X``; with ``layer="auto"`` and ``y``, choose the blocks.

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : array-like of shape (n_images,) or (n_images, n_outputs), default=None
            Targets: with ``layer="auto"``, the blocks whose probe scores
            best on them (see ``layer``); otherwise ignored.

        Returns
        -------
        self : PretrainedFeatureExtractor
        """
        self._fit(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit to ``X`` (and ``y``) and return the features of ``X``.

        When ``layer="auto"`` chose with ``y``, the chosen candidate's
        features are already computed: they are returned as they are.

        Parameters
        ----------
        X : images
        y : array-like of shape (n_images,) or (n_images, n_outputs), default=None

        Returns
        -------
        features : ndarray of shape (n_images, n_features), dtype float32
        """
        features = self._fit(X, y)
        return self._transform(X) if features is None else features

    def _fit(self, X, y):
        """Fit; return the training features when the choice computed those ``transform(X)`` would give."""
        self._validate_params()
        check_int_params(self)  # batch_size=True would read one image per batch
        if backbone_modality(self.backbone) == "text":
            check_text_params(self)
        images = self._inputs(X)  # validate before the slow load
        task = None if y is None or self.layer != "auto" else probe_task(y, len(images))
        check_runtime(self.runtime)
        device = resolve_device(self.device)
        check_writable_memory(self.memory)
        seed = None if self.random_state is None else check_random_state(self.random_state).randint(2**31 - 1)
        with seeded(seed, device):  # weights=None draws its random init here
            backbone = build_backbone(self.backbone, self.weights)
        image_size = self._resolve_image_size(backbone, images)
        layers, scores, features = self._resolve_layers(backbone, images, image_size, task, device)
        encoder = make_encoder(backbone, image_size, layers, self.pooling)
        n_out = feature_width(encoder)
        # Assign fitted state only once everything succeeded, so a failed
        # re-fit never leaves a half-updated model behind.
        self.backbone_, self.layers_, self.image_size_ = backbone, layers, image_size
        self.probe_scores_ = scores
        self.encoder_, self._runtime = encoder, NetworkRuntime()
        self._n_features_out = n_out
        record_n_features_in(self, X)
        # What this fit used: pickling, unpickling and the cache key follow it,
        # not the current parameters, which set_params may change before a re-fit.
        self._fitted_with = dict(backbone=self.backbone, weights=self.weights, pooling=self.pooling)
        self._fingerprint = None
        # transform's own path, unless it would run elsewhere (ONNX) or fill the cache.
        reusable = self.runtime == "torch" and _as_memory(self.memory).location is None
        return features if reusable else None

    def transform(self, X):
        """Compute features for ``X``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_images, n_features), dtype float32
        """
        return self._transform(X)

    def _transform(self, X):
        """:meth:`transform`, without scikit-learn's output container (``fit_transform`` applies it once)."""
        check_is_fitted(self, "image_size_")
        # set_params after fit is not checked by anyone else: batch_size, memory, file_key... are used here.
        self._validate_params()
        check_int_params(self)  # batch_size=True would read one image per batch
        images = self._inputs(X, self._fitted_with["backbone"])  # the fitted network's modality, not a later one's
        check_n_features_in(self, X)
        check_writable_memory(self.memory)
        memory = _as_memory(self.memory)
        if memory.location is None:
            return self._extract(images)
        cached = memory.cache(_cached_features, ignore=["extractor", "images"])
        return cached(self._cache_key(images), _hashable(X, images), extractor=self, images=images)

    @property
    def device_(self):
        """The torch device :meth:`transform` computes on."""
        return resolve_device(self.device)

    # ------------------------------------------------------------------ internals

    def _extract(self, images):
        device = resolve_device(self.device)
        runtime = vars(self).setdefault("_runtime", NetworkRuntime())  # (a model pickled before runtimes existed)
        engine = check_runtime(self.runtime)
        with placed(self.encoder_, engine, device) as encoder, \
                progress_bar(len(images), self.verbose, "features") as bar:
            return runtime.outputs(encoder, images, runtime=engine, n_views=1, batch_size=self.batch_size,
                                   device=device, progress=bar)

    def _inputs(self, X, backbone=None):
        return backbone_inputs(X, self.backbone if backbone is None else backbone, self.input_shape)

    def _resolve_image_size(self, backbone, images):
        if backbone.modality == "text":
            return ()  # texts are not resized: each batch pads to its longest text
        if not (isinstance(self.image_size, str) and self.image_size == "auto"):
            return resolve_image_size(self.image_size, backbone)
        if backbone.extra.get("fixed_input_size"):  # e.g. ViT: its position embeddings fix the size
            return tuple(backbone.input_size)
        return auto_image_size(images.typical_shape(), backbone.input_size)

    def _resolve_layers(self, backbone, images, image_size, task, device):
        """``(layers, probe_scores, features)``: the blocks, their CV scores and the training images' features
        (None when ``y`` did not decide; the features only when computed for every image)."""
        if self.layer != "auto":
            return block_indices(backbone.blocks, self.layer, backbone.name), None, None
        if backbone.modality == "text":  # the sentence embedding the language model was trained to give
            return None, None, None
        if task is None or len(task.rows) == 0:
            return extractor_layers(len(backbone.blocks), images.typical_shape()), None, None
        candidates = layer_candidates(len(backbone.blocks), image_size)
        if len(candidates) == 1:  # nothing to compare: choose_layers would not look at the features
            name = next(iter(candidates))
            return candidates[name], {name: float("nan")}, None
        every_image = len(task.rows) == len(images)
        labelled = images if every_image else images.subset(task.rows)
        features = {name: self._encode(make_encoder(backbone, image_size, layers, self.pooling), labelled, device)
                    for name, layers in candidates.items()}
        name, scores = choose_layers(features, task.targets, make_probe=task.make_probe, stratify=task.stratify)
        return candidates[name], scores, features[name] if every_image else None

    def _encode(self, encoder, images, device):
        """``transform``'s torch path for an encoder of this fit."""
        with on_device(encoder, device) as on, progress_bar(len(images), self.verbose, "features") as bar:
            return encode_batches(on, images, batch_size=self.batch_size, device=device, progress=bar)

    def _cache_key(self, images):
        fitted = self._fitted_with
        if self._fingerprint is None:
            if reproducible_weights(fitted["backbone"], fitted["weights"]):
                self._fingerprint = (fitted["backbone"], fitted["weights"])
            else:
                # The weights' bytes: equal weights (a clone, a seeded random init) share the cache.
                self._fingerprint = weights_fingerprint(self.encoder_.state_dict())
        files = None
        if images.paths is not None:
            # A file's content can change under the same path: key on what file_key says identifies it.
            # The paths come from the input layer, so every container of paths (list, array, Series...) is keyed.
            if self.file_key == "content":
                files = [(p, _file_digest(p)) for p in images.paths]
            else:
                files = [(p, os.path.getsize(p), os.path.getmtime(p)) for p in images.paths]
        return (self._fingerprint, self.layers_, fitted["pooling"], self.image_size_, self.input_shape, files)

    def __getstate__(self):
        state = self.__dict__.copy()
        # A user's own module may live on CUDA: pickle CPU copies (see FineTunedClassifier).
        state["backbone"] = cpu_copy(state["backbone"])
        if state.get("_fitted_with"):
            state["_fitted_with"] = {**state["_fitted_with"], "backbone": cpu_copy(state["_fitted_with"]["backbone"])}
        encoder = state.pop("encoder_", None)
        state.pop("backbone_", None)
        state["_trunk_state"] = None
        fitted = state.get("_fitted_with")
        if encoder is not None and not reproducible_weights(fitted["backbone"], fitted["weights"]):
            # CPU tensors, so a model used on CUDA unpickles on a machine without it.
            state["_trunk_state"] = cpu_state_dict(encoder.trunk)
        return state

    def __setstate__(self, state):
        trunk_state = state.pop("_trunk_state", None)
        self.__dict__.update(state)
        if "image_size_" not in state:
            return
        # Public weights were not pickled: rebuild them; random/custom ones were.
        fitted = self._fitted_with
        backbone = build_backbone(fitted["backbone"], fitted["weights"] if trunk_state is None else None)
        if trunk_state is not None:
            backbone.trunk.load_state_dict(trunk_state)
        self.backbone_ = backbone
        self.encoder_ = make_encoder(backbone, self.image_size_, self.layers_, fitted["pooling"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


@dataclass(frozen=True)
class ProbeTask:
    """What ``layer="auto"`` cross-validates on: the labelled ``rows``, their ``targets``, the probe, the folds."""

    rows: np.ndarray
    targets: np.ndarray
    make_probe: object
    stratify: bool


def probe_task(y, n_images):
    """The probe ``y`` calls for, on the rows it labels: the classifier's for labels, ridge for continuous targets.

    Class labels (1-D, not continuous floats: integers are labels) get the
    stratified logistic probe and lose their -1 (unlabelled) rows; a 0/1 label matrix gets one logistic
    regression per label; continuous targets (float, 1-D or 2-D) the ridge
    probe, every row kept (-1 is then a value).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._features import probe_task
    >>> task = probe_task(["cat", -1, "dog", "cat"], 4)
    >>> task.rows.tolist(), task.targets.tolist(), task.stratify
    ([0, 2, 3], ['cat', 'dog', 'cat'], True)
    >>> probe_task(np.linspace(-1, 1, 5), 5).make_probe()[-1]
    RidgeCV(...)
    >>> probe_task([0, 1], 3)
    Traceback (most recent call last):
    ...
    ValueError: X has 3 images but y has 2 targets; pass one target per image (or fit without y, or set layer to something else than "auto": then y is not used).
    """
    y = np.asarray(as_label_array(y))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(f"y has shape {y.shape}; pass one target per image: a 1-D array, or a 2-D one with a "
                         "column per label or target.")
    if len(y) != n_images:
        raise ValueError(
            f"X has {n_images} images but y has {len(y)} targets; pass one target per image "
            '(or fit without y, or set layer to something else than "auto": then y is not used).'
        )
    kind = type_of_target(y) if y.ndim == 2 or y.dtype.kind == "f" else ""
    if kind in ("continuous", "continuous-multioutput"):
        return ProbeTask(np.arange(len(y)), y, ridge_probe, False)
    if kind == "multilabel-indicator":
        return ProbeTask(np.arange(len(y)), y, lambda: multilabel_probe(1.0), False)
    rows = np.flatnonzero(~unlabeled_mask(y)) if y.ndim == 1 else np.arange(0)
    if y.ndim != 1 or (len(rows) and type_of_target(y[rows]) not in ("binary", "multiclass")):
        raise ValueError(
            f"layer='auto' chooses the blocks with y, but y is {type_of_target(y)!r}: pass class labels, a 0/1 label "
            "matrix or continuous targets, fit without y, or set layer (e.g. layer=None for the final features)."
        )
    return ProbeTask(rows, y[rows], lambda: logistic_probe(1.0), True)


def _as_memory(memory):
    """``memory`` as a ``joblib.Memory``; a ``pathlib.Path`` too, which scikit-learn's check_memory refuses."""
    return check_memory(os.fspath(memory) if isinstance(memory, os.PathLike) else memory)


def check_writable_memory(memory):
    """Fail in ``fit``, not at the first ``transform``, when the ``memory`` folder cannot be written.

    Examples
    --------
    >>> from sktransfer.estimators._features import check_writable_memory
    >>> check_writable_memory(None)  # no cache: nothing to check
    >>> check_writable_memory("/proc/no-cache-here")
    Traceback (most recent call last):
    ...
    ValueError: memory='/proc/no-cache-here' is not a writable folder (No such file or directory); pass a folder you can write to, or memory=None for no cache.
    """
    if memory is None:
        return
    try:
        location = _as_memory(memory).location  # joblib creates the folder
        if location is not None:
            check_writable_folder(location)
    except OSError as exc:
        raise ValueError(
            f"memory={memory!r} is not a writable folder ({exc.strerror or exc}); pass a folder you can write to, "
            "or memory=None for no cache."
        ) from exc


def weights_fingerprint(state_dict):
    """SHA-256 of a state dict's names, dtypes, shapes and bytes: equal weights, equal fingerprint.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.estimators._features import weights_fingerprint
    >>> a = torch.nn.Linear(2, 2)
    >>> weights_fingerprint(a.state_dict()) == weights_fingerprint(__import__("copy").deepcopy(a).state_dict())
    True
    """
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hashable(X, images):
    """What the cache hashes for ``X``: ``X`` itself, but for an ImageSet (whose loader joblib cannot pickle) its pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.estimators._features import _hashable
    >>> X = np.zeros((2, 4, 4), dtype=np.uint8)
    >>> _hashable(X, as_image_set(X)) is X
    True
    >>> len(_hashable(as_image_set(X), as_image_set(X)))  # a SHA-256 of the pixels
    64
    """
    if not isinstance(X, ImageSet):
        return X
    digest = hashlib.sha256()
    for batch in images.iter_batches(256):
        for image in batch:  # a (B, C, H, W) tensor or a list of (C, H, W): one image at a time
            digest.update(f"{tuple(image.shape)}".encode())
            digest.update(image.contiguous().numpy().tobytes())
    return digest.hexdigest()


def _cached_features(key, X, *, extractor, images):
    """What ``memory`` caches: ``key`` and ``X`` are hashed, the extractor and the images set are not."""
    return extractor._extract(images)
