"""runtime="onnx"/"openvino", quantize="int8" and export_onnx: same outputs as torch, clear errors, pickles."""

import importlib
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sktransfer import (DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor, PretrainedFeatureExtractor,
                        export_onnx, export_weights, load_weights)
from sktransfer.backbones import get_backbone
from sktransfer.nn import BackboneNetwork, ImageEncoder, make_head
from sktransfer.runtimes import InferenceGraph, check_deployment

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

TINY = dict(backbone="timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8), max_epochs=1,
            min_steps=4, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:120], y[:120], X[120:160]


@pytest.fixture(scope="module")
def classifier(data):
    X, y, _ = data
    return FineTunedClassifier(**TINY, tta=2).fit(X, y)


def _outputs(estimator, X, runtime):
    estimator.set_params(runtime=runtime)
    if isinstance(estimator, PretrainedFeatureExtractor):
        return estimator.transform(X)
    if isinstance(estimator, FineTunedRegressor):
        return estimator.predict(X)
    return estimator.decision_function(X)


def _fitted(kind, data):
    X, y, X_test = data
    if kind == "classifier":
        return FineTunedClassifier(**TINY, tta=2).fit(X, y)
    if kind == "multilabel":
        return FineTunedClassifier(**TINY, tta=1).fit(X, np.stack([y % 2, y > 4], axis=1).astype(int))
    if kind == "regressor":
        return FineTunedRegressor(**TINY, tta=1).fit(X, (X > 0.5).sum(axis=1).astype(float))
    if kind == "domain":
        y_fit = np.concatenate([y[:80], np.full(40, -1)])
        domain = DomainAdaptiveClassifier(**{**TINY, "layer": None, "image_size": 32}, tta=1)
        return domain.fit(np.concatenate([X[:80], 1 - X[80:]]), y_fit)
    return PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
                                      verbose=0, random_state=0).fit(X)


@pytest.mark.parametrize("kind", ["classifier", "multilabel", "regressor", "domain", "extractor"])
def test_runtimes_give_torch_outputs(kind, data, monkeypatch):
    from sktransfer.runtimes import _state

    estimator = _fitted(kind, data)
    X_test = data[2]
    if kind != "extractor":
        assert estimator.n_steps_ > 0  # trained: the test-time views are in the outputs
    eager = _outputs(estimator, X_test, "torch")

    def moved(*args):
        raise AssertionError("the network was moved for a runtime that holds its own copy of the weights")
    monkeypatch.setattr(_state, "on_device", moved)  # a runtime session never needs the torch weights moved
    for runtime in ("onnx", "openvino"):
        other = _outputs(estimator, X_test, runtime)
        assert other.shape == eager.shape and other.dtype == eager.dtype
        np.testing.assert_allclose(other, eager, atol=1e-4, rtol=1e-4)
    # Unpickled, the session is rebuilt and gives the same outputs.
    again = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_allclose(_outputs(again, X_test, "openvino"), other, atol=1e-6)


def test_predictions_and_batches_agree(classifier, data):
    X_test = data[2]
    eager = classifier.set_params(runtime="torch").predict_proba(X_test)
    onnx = classifier.set_params(runtime="onnx", batch_size=7).predict_proba(X_test)  # a ragged last batch
    np.testing.assert_allclose(onnx, eager, atol=1e-5)
    assert (classifier.predict(X_test) == classifier.set_params(runtime="torch").predict(X_test)).all()
    classifier.set_params(batch_size=32)


def test_bad_runtime_and_quantize_are_refused(classifier, data):
    X, y, X_test = data
    with pytest.raises(InvalidParameterError, match="runtime"):
        clone(classifier).set_params(runtime="tensorrt").fit(X, y)
    with pytest.raises(InvalidParameterError, match="runtime"):  # set after fit: checked at predict
        clone(classifier).fit(X, y).set_params(runtime="onnxruntime").predict(X_test)
    with pytest.raises(ValueError, match="runtime='onnx' or runtime='openvino'"):
        clone(classifier).set_params(quantize="int8").fit(X, y)  # runtime="torch"
    with pytest.raises(InvalidParameterError, match="quantize"):
        clone(classifier).set_params(quantize="fp8", runtime="onnx").fit(X, y)


def test_openvino_failing_to_convert_is_a_clear_error(data):
    X, y, X_test = data
    # test_resnet's last pooling at 16 px has a kernel larger than its 1x1 map: torch pads, OpenVINO refuses.
    clf = FineTunedClassifier(**{**TINY, "layer": None}, tta=0).fit(X, y)
    with pytest.raises(ValueError, match="OpenVINO cannot convert this network.*runtime='onnx'"):
        clf.set_params(runtime="openvino").predict(X_test)
    assert clf.set_params(runtime="onnx").predict(X_test).shape == (len(X_test),)


def test_a_missing_runtime_package_names_the_extra(monkeypatch):
    real = importlib.import_module

    def no_openvino(name, *args):
        if name == "openvino":
            raise ImportError("No module named 'openvino'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_openvino)
    with pytest.raises(ImportError, match=r'pip install "sktransfer\[openvino\]"'):
        check_deployment("openvino")
    assert check_deployment("onnx") == "onnx"


@pytest.fixture(scope="module")
def quantized(data):
    from sktransfer.runtimes import _state

    X, y, _ = data
    with pytest.MonkeyPatch.context() as patch:  # kept whatever speed this tiny network shows: the task decides
        patch.setattr(_state, "MIN_INT8_SPEEDUP", 0.0)
        return FineTunedClassifier(**TINY, tta=0, runtime="onnx", quantize="int8").fit(X, y)


def test_int8_is_kept_within_a_point_and_survives_pickling(quantized, data):
    X_test, clf = data[2], quantized
    scores = clf.int8_scores_
    assert set(scores) == {"float", "int8", "n_images", "images", "speedup", "int8_images_per_s",
                           "eager_images_per_s"} and scores["images"] == "training"
    assert scores["speedup"] == pytest.approx(scores["int8_images_per_s"] / scores["eager_images_per_s"])
    assert np.isfinite(scores["speedup"]) and scores["speedup"] > 0
    assert clf.quantized_ == (scores["int8"] >= scores["float"] - 0.01)
    assert clf.quantized_  # this small network keeps its accuracy in int8
    int8 = clf.decision_function(X_test)
    float_ = clf.set_params(runtime="torch").decision_function(X_test)  # torch runs the float network
    assert not np.allclose(int8, float_, atol=1e-6)  # int8 really ran
    assert np.corrcoef(int8.ravel(), float_.ravel())[0, 1] > 0.95
    again = pickle.loads(pickle.dumps(clf.set_params(runtime="openvino")))
    clf.set_params(runtime="onnx")
    assert again.quantized_
    np.testing.assert_allclose(again.decision_function(X_test), int8, atol=0.05 * np.abs(int8).max())


def test_int8_refused_with_a_warning_keeps_float(data, monkeypatch):
    from sktransfer.runtimes import _state

    monkeypatch.setattr(_state, "MAX_INT8_LOSS", -1.0)  # nothing is good enough: always refused
    X, y, X_test = data
    with pytest.warns(UserWarning, match="int8 refused, the float network is kept"):
        clf = FineTunedClassifier(**TINY, tta=0, runtime="onnx", quantize="int8").fit(X, y)
    assert not clf.quantized_ and clf.int8_scores_["int8"] <= 1.0
    np.testing.assert_allclose(clf.decision_function(X_test),
                               clf.set_params(runtime="torch").decision_function(X_test), atol=1e-4, rtol=1e-5)


def test_int8_that_does_not_pay_is_refused_saying_what_was_measured(data, monkeypatch):
    from sktransfer.runtimes import _state

    monkeypatch.setattr(_state, "MIN_INT8_SPEEDUP", np.inf)  # no measured speed is enough
    X, y, X_test = data
    with pytest.warns(UserWarning, match=r"kept the task's score .* as fast as torch eager .* images/s") as caught:
        clf = FineTunedClassifier(**TINY, tta=1, runtime="onnx", quantize="int8").fit(X, y)
    assert clf.n_steps_ > 0 and "2 view(s)" in str(caught[0].message)  # timed as it predicts: with its view
    scores = clf.int8_scores_
    assert not clf.quantized_ and np.isfinite(scores["speedup"]) and scores["int8"] >= scores["float"] - 0.01
    with pytest.raises(ValueError, match="no int8 network"):
        clf._runtime.session(clf.module_, "onnx", torch.device("cpu"), int8=True)
    np.testing.assert_allclose(clf.decision_function(X_test),
                               clf.set_params(runtime="torch").decision_function(X_test), atol=1e-4, rtol=1e-5)


def test_int8_losing_the_task_is_not_timed(data, monkeypatch):
    from sktransfer.runtimes import _state

    monkeypatch.setattr(_state, "MAX_INT8_LOSS", -1.0)
    monkeypatch.setattr(_state.NetworkRuntime, "_speedup", None)  # calling it would raise
    X, y, _ = data
    with pytest.warns(UserWarning, match="more than"):
        clf = FineTunedClassifier(**TINY, tta=0, runtime="onnx", quantize="int8").fit(X, y)
    assert clf.int8_scores_["speedup"] is None


def test_export_weights_keeps_the_float_network(quantized, data, tmp_path):
    X_test, clf = data[2], quantized
    export_weights(clf, tmp_path / "m.pt")
    loaded = load_weights(tmp_path / "m.pt")
    assert not loaded.quantized_
    np.testing.assert_allclose(loaded.set_params(runtime="torch").decision_function(X_test),
                               clf.set_params(runtime="torch").decision_function(X_test), atol=1e-5)
    clf.set_params(runtime="onnx")


@pytest.mark.parametrize("layers", [None, [1, 2]])
def test_inference_graph_is_the_eager_network(layers):
    backbone = get_backbone("timm/test_resnet", weights=None)
    encoder = ImageEncoder(backbone, (32, 32), layers=layers)
    width = encoder.eval()(torch.zeros(1, 3, 32, 32)).shape[1]
    network = BackboneNetwork(encoder, make_head(width, 3)).eval()
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(InferenceGraph(network)(x), network(x), atol=1e-5)
        resized = InferenceGraph(network, resize=True)(torch.rand(2, 1, 20, 12))
    assert resized.shape == (2, 3)


# ---------------------------------------------------------------- export_onnx

PLAIN_ONNXRUNTIME = """
import sys, numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
images = np.load(sys.argv[2])
np.save(sys.argv[3], session.run(None, {"images": images})[0])
assert not any(name.split(".")[0] == "sktransfer" for name in sys.modules), "sktransfer was imported"
"""


def _run_plain(path, images, tmp_path):
    """The file run by plain onnxruntime in a fresh process that never imports sktransfer."""
    np.save(tmp_path / "in.npy", images.astype(np.float32))
    subprocess.run([sys.executable, "-c", PLAIN_ONNXRUNTIME, str(path), str(tmp_path / "in.npy"),
                    str(tmp_path / "out.npy")], check=True, cwd=tmp_path)
    return np.load(tmp_path / "out.npy")


def _gray(X):
    return (np.round(X * 255) / 255).reshape(-1, 1, 8, 8)


def test_exported_classifier_runs_in_plain_onnxruntime(classifier, data, tmp_path):
    X_test = data[2]
    path = export_onnx(classifier, tmp_path / "digits.onnx", channels=1)
    probabilities = _run_plain(path, _gray(X_test), tmp_path)
    np.testing.assert_allclose(probabilities, classifier.predict_proba(X_test), atol=1e-4)  # views included
    import onnx

    model = onnx.load(path)
    facts = {p.key: p.value for p in model.metadata_props}
    assert facts["outputs"] == '"probabilities"' and facts["classes"] == str(classifier.classes_.tolist())
    # No exporter notes: stack traces would ship this machine's file paths, and they weigh 2-5% of a file.
    assert not model.graph.metadata_props and not any(node.metadata_props for node in model.graph.node)
    assert b"stack_trace" not in path.read_bytes() and b"site-packages" not in path.read_bytes()
    # Any image size: the file resizes inside (here 3x larger images of the same digits).
    big = np.kron(_gray(X_test), np.ones((1, 1, 3, 3)))
    assert _run_plain(path, big, tmp_path).argmax(1).tolist() == probabilities.argmax(1).tolist()


def test_exported_regressor_and_extractor(data, tmp_path):
    X, _, X_test = data
    reg = _fitted("regressor", data)
    values = _run_plain(export_onnx(reg, tmp_path / "r.onnx", channels=1), _gray(X_test), tmp_path)
    np.testing.assert_allclose(values.ravel(), reg.set_params(runtime="torch").predict(X_test), atol=1e-3)
    fx = _fitted("extractor", data)
    colour = np.repeat(_gray(X_test), 3, axis=1)
    features = _run_plain(export_onnx(fx, tmp_path / "f.onnx"), colour, tmp_path)
    np.testing.assert_allclose(features, fx.set_params(runtime="torch").transform(X_test), atol=1e-4)


def test_int8_export_is_smaller_and_close(classifier, data, tmp_path):
    X, _, X_test = data
    float_path = export_onnx(classifier.set_params(tta=0), tmp_path / "f.onnx", channels=1)
    int8_path = export_onnx(classifier, tmp_path / "q.onnx", channels=1, calibration=X)
    classifier.set_params(tta=2)
    assert int8_path.stat().st_size < float_path.stat().st_size / 2
    a, b = _run_plain(float_path, _gray(X_test), tmp_path), _run_plain(int8_path, _gray(X_test), tmp_path)
    assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.9


def test_export_onnx_errors(classifier, tmp_path):
    with pytest.raises(TypeError, match="export_onnx writes a fitted"):
        export_onnx(object(), tmp_path / "x.onnx")
    with pytest.raises(Exception, match="not fitted"):
        export_onnx(FineTunedClassifier(), tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="channels=2"):
        export_onnx(classifier, tmp_path / "x.onnx", channels=2)
    with pytest.raises(ValueError, match="is a folder"):
        export_onnx(classifier, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        export_onnx(classifier, tmp_path / "missing" / "x.onnx")
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*partial"))


def test_onnx_export_leaves_the_fitted_model_untouched(classifier, data):
    X_test = data[2]
    before = classifier.set_params(runtime="torch").decision_function(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the exporter's own warnings are silenced, not the user's problem
        classifier.set_params(runtime="onnx").decision_function(X_test)
    assert not [h for m in classifier.module_.modules() for h in m._forward_hooks.values()]
    np.testing.assert_allclose(classifier.set_params(runtime="torch").decision_function(X_test), before, atol=0)


def test_openvino_sessions_released_in_any_order_leave_ctrl_c_working():
    # OpenVINO's CPU plugin swaps the thread's signal stack per Core; Cores released out of order used
    # to leave it on freed memory, and the next Ctrl-C was a segmentation fault (run apart: it kills).
    code = (
        "import gc, signal\n"
        "import numpy as np, torch\n"
        "from sktransfer.backbones import get_backbone\n"
        "from sktransfer.nn import ImageEncoder\n"
        "from sktransfer.runtimes import InferenceGraph, Session, onnx_bytes\n"
        "encoder = ImageEncoder(get_backbone('timm/test_resnet', weights=None), (32, 32)).eval()\n"
        "model = onnx_bytes(InferenceGraph(encoder), torch.rand(2, 3, 32, 32))\n"
        "first, second = (Session(model, 'openvino', 1, torch.device('cpu')) for _ in range(2))\n"
        "x = np.zeros((1, 3, 32, 32), np.float32)\n"
        "assert np.allclose(first(x), second(x))\n"
        "del first; gc.collect(); del second; gc.collect()\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "interrupted", done.stderr[-2000:]
