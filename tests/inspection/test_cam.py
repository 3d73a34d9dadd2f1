"""The exact class-activation map: it sums to the explained score (minus the head's bias term) on every
kind of network the library trains with a linear head, and it is refused where it would not be exact."""

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor
from sktransfer.inspection import explain, patch_images, pointing_score
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

#: image_size 32 on 8x8 digits: every map the head reads is 2^k times smaller than the 32-pixel input the
#: explanation is drawn at, so the upsampling keeps each cell's sum exactly (explained at input_shape 32).
CAM = {**FAST, "image_size": 32, "input_shape": (32, 32), "max_epochs": 2}


def images(digits, n):
    """uint8 32x32 images (uint8: explain and the direct forward pass see the very same pixels)."""
    X, y = digits
    x = torch.as_tensor(X[:n].reshape(-1, 1, 8, 8), dtype=torch.float32)
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="nearest")
    return (x[:, 0].numpy() * 255).round().astype(np.uint8).reshape(n, -1), y[:n]


def explained_score(estimator, X, result):
    """The score explain differentiates, minus the head's bias term, from a direct forward pass."""
    x = torch.as_tensor(X.reshape(-1, 1, 32, 32))
    head = estimator.module_.head
    with torch.no_grad():
        z = estimator.module_.eval()(x)
    bias = head[-1].bias.detach()
    view = estimator.target_spec_
    index = torch.as_tensor(np.searchsorted(view.labels, result.target) if view.kind == "softmax"
                            else np.asarray(result.target))
    leaf = z.clone().requires_grad_(True)
    (direction,) = torch.autograd.grad(view.score(leaf, index).sum(), leaf)  # how the score weighs the outputs
    return ((z - bias) * direction).sum(dim=1).numpy()


def fitted(kind, digits):
    X, y = images(digits, 120)
    if kind == "three-class":
        return FineTunedClassifier(**CAM).fit(X, y % 3), X
    if kind == "binary":
        return FineTunedClassifier(**{**CAM, "layer": [1, 2]}).fit(X, (y >= 5).astype(int)), X
    if kind == "multi-label":
        return FineTunedClassifier(**CAM).fit(X, np.column_stack([y >= 5, y % 2 == 0]).astype(int)), X
    if kind == "regressor":
        return FineTunedRegressor(**CAM).fit(X, np.column_stack([y, y % 3]).astype(np.float32)), X
    y_domain = np.where(np.arange(len(y)) < 60, y % 3, -1)  # the second half: unlabelled target images
    return DomainAdaptiveClassifier(**CAM).fit(X, y_domain), X


@pytest.mark.parametrize("kind", ["three-class", "binary", "multi-label", "regressor", "domain-adaptive"])
def test_cam_sums_to_the_score(digits, kind):
    estimator, X = fitted(kind, digits)
    target = 1 if kind in ("multi-label", "regressor") else None
    result = explain(estimator, X[:6], target=target, method="cam")
    assert result.method == "cam" and result.contributions.shape == (6, 32, 32)
    total = result.contributions.sum(axis=(1, 2))
    expected = explained_score(estimator, X[:6], result)
    np.testing.assert_allclose(total, expected, rtol=1e-4, atol=1e-4)
    assert np.ptp(total) > 1e-3  # the scores differ between images: the equality is not 0 == 0


def test_cam_of_each_block_adds_up_to_the_whole(digits):
    estimator, X = fitted("binary", digits)
    whole = explain(estimator, X[:4], method="cam")
    parts = [explain(estimator, X[:4], method="cam", layer=b).contributions for b in estimator.layers_]
    assert whole.layer == "+".join(explain(estimator, X[:1], method="cam", layer=b).layer for b in estimator.layers_)
    np.testing.assert_allclose(sum(parts), whole.contributions, rtol=1e-4, atol=1e-5)


def test_cam_is_refused_where_it_is_not_exact(digits):
    X, y = images(digits, 60)
    hidden = FineTunedClassifier(**{**CAM, "hidden_units": (8,)}).fit(X, y % 3)
    assert explain(hidden, X[:2]).method == "saliency"  # the default needs no linear head
    assert explain(hidden, X[:2], layer=1).method == "gradcam"  # a named block asks for a feature map
    with pytest.raises(ValueError, match="head is not linear.*method='auto' or 'gradcam'"):
        explain(hidden, X[:2], method="cam")
    gem = FineTunedClassifier(**{**CAM, "pooling": "gem"}).fit(X, y % 3)
    with pytest.raises(ValueError, match="pooling='gem'"):
        explain(gem, X[:2], method="cam")


def test_cam_refuses_a_block_the_head_does_not_read(digits):
    estimator, X = fitted("binary", digits)  # the head reads blocks 1 and 2
    with pytest.raises(ValueError, match="is not a map the head reads"):
        explain(estimator, X[:2], method="cam", layer=0)
    assert explain(estimator, X[:2], method="gradcam", layer=0).layer == explain(
        estimator, X[:1], method="gradcam", layer=0).layer  # Grad-CAM reads any block


def test_pointing_score_counts_maxima_inside_the_evidence():
    X, _, _, mask = patch_images(6, size=32, return_mask=True, random_state=0)
    assert pointing_score(X.sum(axis=3), mask) == 1.0
    assert pointing_score(X.sum(axis=3), ~mask) == 0.0
    assert pointing_score(np.ones((6, 32, 32)), mask) == 0.0  # ties: every maximum must be inside
    grown = binary_dilation(mask, np.ones((1, 5, 5), bool)).astype(float)  # peaks up to 2 pixels beside it
    assert pointing_score(grown, mask) == 0.0 and pointing_score(grown, mask, tolerance=2) == 1.0
    with pytest.raises(ValueError, match="one mask per map"):
        pointing_score(X.sum(axis=3), mask[:3])
    with pytest.raises(ValueError, match="tolerance must be an int"):
        pointing_score(X.sum(axis=3), mask, tolerance=-1)
