"""``explain``: heat maps of what a fitted network looked at, one per image, at the image's resolution."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import Bunch

from .._device import on_device, pin, resolve_device
from .._tensors import to_float_images
from ..images import as_image_set, check_n_features_in
from ._checks import check_network_estimator
from ..backbones import block_index
from ._cam import affine_head, cam, why_not_exact
from ._gradcam import gradcam, gradients_on, head_sites, locate_layer, saliency, unit_range
from ._tokens import TEXT_METHODS, explain_texts

__all__ = ["METHODS", "explain"]

METHODS = ("auto", "cam", "gradcam", "saliency", "integrated_gradients")


def explain(estimator, X, target=None, *, method="auto", layer="auto"):
    """Heat maps of the image regions that drive a fitted network's output; token attributions for texts.

    Parameters
    ----------
    estimator : fitted FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier
        The network to explain (its ``module_``). Not a Pipeline (pass its
        final network step and the images that step receives) nor a
        PretrainedFeatureExtractor, which has no score to explain (fit a
        ``FineTunedClassifier(trainable_blocks=0)``, a linear head on the
        frozen backbone): a TypeError says so.
    X : images or texts
        Any form :func:`sktransfer.images.as_image_set` accepts, as in
        ``predict``; for a network over a language model, a list, 1-D array
        or pandas Series of ``str`` (see the Notes).
    target : label, array-like of shape (n_images,) or None, default=None
        What to explain: a class of ``classes_`` (for every image, or one per
        image); None explains each image's predicted class. For a regressor,
        the index of the output (None: output 0 of a single-output regressor).
    method : {"auto", "cam", "gradcam", "saliency", "integrated_gradients"}, default="auto"
        ``"cam"``: the exact class-activation map (Zhou et al., 2016; HiResCAM,
        Draelos and Carin, 2020) of a linear head over average-pooled maps
        (the probe head, or ``hidden_units=()``, with ``pooling="avg"``): each
        position's linear contribution to the score, summed over every block
        the head reads, each upsampled to the image; see ``contributions``.
        ``"gradcam"``: Grad-CAM (Selvaraju et al., 2017) on the feature map
        ``layer``, upsampled to the image. ``"saliency"``: gradient x input,
        each pixel's first-order contribution to the score relative to a flat
        image of the image's mean colour (positive part, summed over
        channels, lightly blurred). ``"auto"``: Grad-CAM when ``layer`` names
        a block, else ``"saliency"``, the method whose maximum fell on the
        evidence for at least 95% of maps on the default fine-tuned model,
        where CAM and Grad-CAM point at the empty half of the image (a deep
        map's position sees most of the image). See the Notes and
        docs/inspection.md for what each map can and cannot show.
    layer : "auto", int or str, default="auto"
        A block, by index or name among the blocks the network runs (as in
        ``layer=`` of the estimator). CAM: ``"auto"`` sums every map the head
        reads; a block restricts the map to that block's contribution (it must
        be one the head reads). Grad-CAM: ``"auto"`` is the highest spatial
        map the head reads (the trunk's final output, or the highest block of
        ``layers_``). Ignored by ``"saliency"``.

    Returns
    -------
    explanation : :class:`~sklearn.utils.Bunch`
        With

        - ``maps``: ndarray of shape (n_images, H, W), float32 in [0, 1], at
          the images' own resolution (each map scaled by its own minimum and
          maximum; a map of zeros means no region stood out). When the images differ
          in size, a list of (H_i, W_i) arrays instead.
        - ``target``: ndarray (n_images,), the explained class of each image
          (from ``classes_``), or output index for a regressor.
        - ``probability``: ndarray (n_images,), the probability the network
          gives the target (softmax; multi-label: the label's sigmoid); NaN
          for a regressor.
        - ``prediction``: ndarray (n_images,), the predicted label (multi-label:
          0/1 for the target label; regressor: the predicted value of the
          target output, in the units of ``y``).
        - ``method`` and ``layer``: what was computed (``layer`` None for
          saliency; for CAM the blocks summed, joined by ``"+"``).
        - ``contributions``: for CAM, ndarray (n_images, H, W) float32, the
          signed contribution of each pixel to the score; it sums to the score
          minus the head's bias term (exactly when the image's side is a
          multiple of each map's side; bilinear spreading otherwise). None for
          the other methods.

    Notes
    -----
    The score explained is the target's log-odds (its logit minus the
    log-sum-exp of the other classes' logits; multi-label: its logit;
    regressor: the output): it credits what tells the target apart, not
    evidence every class shares, and it does not saturate on confident
    predictions. CAM explains the outputs weighted by this score's gradient
    with respect to them: for two classes exactly the log-odds; for more, the
    target's logit minus the others' logits weighted by their softmax among
    themselves. CAM is exact about the *head*: how much each position of
    each map adds. A position of a deep map sees most of the image, so on a
    network that reads position from the image's borders it can credit the
    empty half of an image for a patch in the other (docs/inspection.md). ``"saliency"`` weighs the gradient by the pixel's
    difference from the mean colour because the plain gradient magnitude
    measures sensitivity rather than contribution, and came out uniform on
    the test images of the documentation. Predictions here use the plain image, without the ``tta``
    views ``predict`` may average. Gradients are taken with respect to
    activations and pixels, so a frozen backbone is explained as well as a
    fine-tuned one; the model is left as it was (eval mode, on the CPU,
    ``requires_grad`` of every parameter unchanged). Images are processed
    ``batch_size`` at a time, on the estimator's ``device``; images of
    differing sizes one at a time.

    **Texts.** A network over a language model is explained token by token at its input
    embeddings. ``"auto"`` is ``"integrated_gradients"`` (Sundararajan et al.,
    2017): each token's embedding moves from the ``[PAD]`` token's to its own
    in 32 steps (special tokens and positions stay), and its attribution is
    the mean gradient along the way times that move, so a text's
    attributions add up to its score minus the reference's (completeness;
    the quadrature's error is in ``score - baseline_score - sum``).
    ``"saliency"`` is gradient x input in one pass (no completeness).
    ``layer`` must stay ``"auto"``. The Bunch then holds, per text (special
    tokens left out, texts cut at the model's length as in ``predict``):
    ``tokens`` (word pieces), ``offsets`` (each token's characters in the
    text; None from a slow tokenizer), ``contributions`` (signed, per token),
    ``maps`` (each token's positive share in [0, 1]), ``words`` and
    ``word_spans`` (a word's pieces joined), ``word_contributions`` (their
    sums), and for all texts ``texts``, ``score``, ``baseline_score``,
    ``target``, ``probability``, ``prediction``, ``method`` and ``layer``
    (``"embeddings"``). :class:`~sktransfer.TextExplanationDisplay` shows them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.inspection import explain
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=32, max_epochs=1, min_steps=0,
    ...                           augment=None, tta=0, input_shape=(8, 8), verbose=0, random_state=0)
    >>> clf = clf.fit(X[:100] / 16, y[:100])
    >>> result = explain(clf, X[:3] / 16, method="cam")
    >>> result.maps.shape, result.layer, bool(result.maps.min() >= 0 and result.maps.max() <= 1)
    ((3, 8, 8), 'layer1.0+layer2.0+layer3.0', True)
    >>> result.method, bool(abs(result.contributions.sum()) > 0)
    ('cam', True)
    >>> result.target.tolist() == clf.predict(X[:3] / 16).tolist()
    True
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}; use 'auto' (saliency, or Grad-CAM "
                         "on a named layer), 'cam' (exact for a linear head), 'gradcam' or 'saliency'.")
    check_network_estimator(estimator, "explain", "a score to explain (a class's, or an output's)")
    if getattr(estimator.module_.encoder, "modality", "image") == "text":
        return explain_texts(estimator, X, target, method, layer)
    check_n_features_in(estimator, X)
    images = as_image_set(X, input_shape=estimator.input_shape)
    view = estimator.target_spec_  # what the outputs mean
    chosen = view.resolve(target, len(images))
    device = resolve_device(estimator.device)
    maps, raw, outputs, indices = [], [], [], []
    # Out of any inference mode first: moving the module there would turn its weights into inference tensors.
    with torch.inference_mode(False), on_device(estimator.module_, device) as module, gradients_on(module):
        method, site, compute = plan(estimator, module, method, layer, device)
        for start, x in float_batches(images, estimator.batch_size, device):
            picked = {}

            def score_of(out, start=start, n=len(x)):
                index = view.predicted(out.detach().float().cpu().numpy()) if chosen is None else \
                    chosen[start : start + n]
                picked["index"] = index
                return view.score(out.float(), torch.as_tensor(index, device=out.device))

            batch_maps, out, batch_raw = compute(x, score_of)
            maps += list(batch_maps.cpu().numpy().astype(np.float32))
            raw += [None] * len(x) if batch_raw is None else list(batch_raw.cpu().numpy().astype(np.float32))
            outputs.append(out.float().cpu().numpy())
            indices.append(picked["index"])
    outputs, indices = np.concatenate(outputs), np.concatenate(indices)
    if len({m.shape for m in maps}) == 1:
        maps = np.stack(maps)
        raw = None if method != "cam" else np.stack(raw)
    elif method != "cam":
        raw = None
    return Bunch(maps=maps, target=view.labels[indices], probability=view.probability(outputs, indices),
                 prediction=view.prediction(outputs, indices), method=method, layer=site, contributions=raw)


def plan(estimator, module, method, layer, device):
    """``(method, layer name, compute)``: what ``method`` and ``layer`` resolve to for this network.

    ``compute(x, score_of)`` returns ``(maps in [0, 1], outputs, signed contributions or None)``.
    ``"auto"`` is ``"saliency"`` (of the four, the one whose maps pointed at the evidence on the
    library's default models, docs/inspection.md), or ``"gradcam"`` when ``layer`` names a block.
    """
    if method == "auto":  # pixel attribution, the maps that pointed at the evidence; a named block asks for a map
        method = "saliency" if layer == "auto" else "gradcam"
    if method == "integrated_gradients":
        raise ValueError("method='integrated_gradients' attributes the tokens of a text network; for images use "
                         "'saliency' (gradient x input, the default), 'cam' or 'gradcam'.")
    if method == "cam":
        head, read, reason = affine_head(module.head), head_sites(estimator), why_not_exact(estimator)
        if reason is not None:
            raise ValueError(f"method='cam' is exact only for a linear head over average-pooled maps, and this "
                             f"network is not: {reason}. Use method='auto' or 'gradcam'.")
        blocks = None if layer == "auto" else [_site_index(estimator, read, layer)]
        names = [s.name for i, s in enumerate(read) if blocks is None or i in blocks]

        def compute(x, score_of):
            contributions, out = cam(module, head, x, score_of, blocks)
            return unit_range(torch.relu(contributions)), out, contributions.detach()

        return method, "+".join(names), compute
    if method == "gradcam":
        site = locate_layer(estimator, module, layer, device)
        return method, site.name, lambda x, score_of: (*gradcam(module, site, x, score_of), None)
    return method, None, lambda x, score_of: (*saliency(module, x, score_of), None)


def _site_index(estimator, read, layer):
    """Position of block ``layer`` (index or name) among the maps the head reads; a ValueError when the
    head does not read it."""
    blocks = estimator.arch_spec_.blocks
    name = blocks[block_index(blocks, layer, "this network (the blocks it runs)")].name
    names = [s.name for s in read]
    if name not in names:
        raise ValueError(f"layer={layer!r} is not a map the head reads ({names}); the CAM is exact only on "
                         "those. Use layer='auto' (all of them), one of those, or method='gradcam'.")
    return names.index(name)


def float_batches(images, batch_size, device):
    """``(start, images)``: float [0, 1] batches at the images' own size on ``device``.

    Images of one size come ``batch_size`` at a time; a batch of images of
    differing sizes is split into single images (they cannot be stacked).
    """
    start = 0
    for batch in images.iter_batches(batch_size):
        parts = [batch] if isinstance(batch, torch.Tensor) else [image[None] for image in batch]
        for part in parts:
            x = to_float_images(pin(part, device), tuple(part.shape[-2:]), device=device,
                                non_blocking=device.type == "cuda")
            yield start, x
            start += len(part)
