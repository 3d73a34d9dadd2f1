"""The Display objects render real figures: each is saved as a PNG and the pixels are checked."""

import io
import sys

import numpy as np
import pytest
from PIL import Image

from sktransfer import (ExplanationDisplay, FeatureSpaceDisplay, FineTunedClassifier, FineTunedRegressor,
                        PretrainedFeatureExtractor, TrainingCurveDisplay)
from tiny import FAST

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    clf = FineTunedClassifier(**{**FAST, "image_size": 32, "max_epochs": 3, "validation_fraction": 0.2}).fit(
        X[:150], y[:150])
    return clf, X[150:158], y[150:158]


def png(figure):
    """The figure as an RGB array, through a real PNG file's bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    image = Image.open(io.BytesIO(buffer.getvalue()))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB")).astype(np.int16)


def assert_not_blank(pixels, min_colours=20):
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) >= min_colours


def test_explanation_display_png(fitted):
    clf, X, y = fitted
    display = ExplanationDisplay.from_estimator(clf, X[:4], y[:4], n_cols=2)
    assert display.ax_.shape == (2, 4) and len(display.overlays_) == 4
    pixels = png(display.figure_)
    assert_not_blank(pixels)
    # The overlay panel differs from the raw image panel next to it (same image, heat map on top).
    display.figure_.canvas.draw()
    canvas = np.asarray(display.figure_.canvas.buffer_rgba())[:, :, :3].astype(np.int16)
    height = canvas.shape[0]

    def panel(ax):
        box = ax.get_window_extent()
        return canvas[height - int(box.y1) + 2 : height - int(box.y0) - 2, int(box.x0) + 2 : int(box.x1) - 2]

    raw, overlay = panel(display.ax_[0, 0]), panel(display.ax_[0, 1])
    shape = np.minimum(raw.shape, overlay.shape)
    raw, overlay = raw[: shape[0], : shape[1]], overlay[: shape[0], : shape[1]]
    assert np.abs(raw - overlay).mean() > 10
    assert (raw[..., 0] == raw[..., 2]).all()  # the digit is gray: R == B everywhere
    assert (overlay[..., 0] != overlay[..., 2]).mean() > 0.5  # the heat map colours it
    titles = [a.get_title() for a in display.ax_.ravel()]
    assert titles[0] == f"true: {y[0]}" and titles[1].startswith(f"pred: {clf.predict(X[:1])[0]} (")


def test_explanation_display_into_given_axes(fitted):
    clf, X, y = fitted
    fig, axes = plt.subplots(1, 4)
    display = ExplanationDisplay.from_estimator(clf, X[:2], method="saliency", ax=axes)
    assert display.figure_ is fig and display.ax_.shape == (1, 4)
    fig, ax = plt.subplots()
    display = ExplanationDisplay.from_estimator(clf, X[:3], ax=ax, n_cols=3)
    assert display.figure_ is fig and display.ax_.shape == (1, 6)  # one Axes divided into the grid
    with pytest.raises(ValueError, match="6 Axes"):
        ExplanationDisplay.from_estimator(clf, X[:3], ax=axes)
    with pytest.raises(ValueError, match="one true label per image"):
        ExplanationDisplay.from_estimator(clf, X[:3], y[:2])


def test_regressor_explanation_display(digits):
    X, y = digits
    reg = FineTunedRegressor(**{**FAST, "image_size": 32}).fit(X[:60], y[:60].astype(float))
    display = ExplanationDisplay.from_estimator(reg, X[:2], y[:2])
    assert "(" not in display.ax_[0, 1].get_title()  # no probability for a regressor
    assert_not_blank(png(display.figure_))


def test_feature_space_display_png(digits):
    X, y = digits
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
                                    verbose=0).fit(X[:120])
    display = FeatureSpaceDisplay.from_estimator(fx, X[:120], y[:120])
    assert display.embedding.shape == (120, 2) and sorted(display.collections_) == list(range(10))
    assert display.ax_.get_xlabel() == "PC1"
    assert_not_blank(png(display.figure_))
    colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in display.collections_.values()}
    assert len(colours) == 10
    tsne = FeatureSpaceDisplay.from_features(fx.transform(X[:60]), y[:60], method="tsne", random_state=0)
    assert tsne.embedding.shape == (60, 2) and tsne.ax_.get_xlabel() == "t-SNE 1"
    with pytest.raises(ValueError, match="method='umap'"):
        FeatureSpaceDisplay.from_features(np.zeros((5, 3)), np.zeros(5), method="umap")
    with pytest.raises(ValueError, match="one class per image"):
        FeatureSpaceDisplay.from_features(np.zeros((5, 3)), np.zeros(4))


def test_feature_space_of_a_fine_tuned_network(fitted):
    clf, X, y = fitted
    display = FeatureSpaceDisplay.from_estimator(clf, X, y)
    assert display.embedding.shape == (len(X), 2)
    with pytest.raises(TypeError, match="no features to show"):
        FeatureSpaceDisplay.from_estimator(object(), X, y)


def test_training_curve_display_png(fitted):
    clf, _, _ = fitted
    display = TrainingCurveDisplay.from_estimator(clf)
    assert display.epochs.tolist() == [1, 2, 3] and len(display.ax_) == 3
    assert [a.get_ylabel() for a in display.ax_] == ["loss", "accuracy", "learning rate"]
    np.testing.assert_allclose(display.lines_["valid_loss"].get_ydata(), clf.history_[:, "valid_loss"])
    np.testing.assert_allclose(display.lines_["lr"].get_ydata(), clf.history_[:, "lr"])
    assert_not_blank(png(display.figure_), min_colours=5)
    with pytest.raises(ValueError, match="no 'train_loss'"):
        TrainingCurveDisplay.from_history([{"epoch": 1}])


def test_probe_only_history_has_one_panel_per_record(digits):
    X, y = digits
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0}).fit(X[:60], y[:60])
    display = TrainingCurveDisplay.from_estimator(clf)
    assert [a.get_ylabel() for a in display.ax_] == ["loss", "accuracy"]  # the probe has no learning rate


def test_missing_matplotlib_names_the_extra(fitted, monkeypatch):
    clf, X, _ = fitted
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sktransfer\[plot\]"):
        TrainingCurveDisplay.from_estimator(clf)
    with pytest.raises(ImportError, match=r"sktransfer\[plot\]"):
        ExplanationDisplay.from_estimator(clf, X[:1])


@pytest.mark.parametrize("method", ["pca", "tsne"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_feature_space_of_features_with_nan_names_the_rows(digits, method, bad):
    X, y = digits
    features = np.random.RandomState(0).rand(20, 4)
    features[[3, 7], 1] = bad
    before = features.copy()
    with pytest.raises(ValueError, match=r"features of 2 image\(s\) hold NaN or infinite values \(rows 3, 7\).*"
                                         r"np\.isfinite\(features\)\.all\(axis=1\)"):
        FeatureSpaceDisplay.from_features(features, y[:20], method=method)
    np.testing.assert_array_equal(features, before)  # the caller's array is left alone


@pytest.mark.parametrize("features, match", [(np.random.rand(10, 1), "at least 3 images and 2 features"),
                                             ([["a", "b"]] * 5, "features must be numbers")])
def test_feature_space_of_unusable_features_says_what_to_pass(features, match):
    with pytest.raises(ValueError, match=match):
        FeatureSpaceDisplay.from_features(features, np.arange(len(features)) % 2)
