"""Bad inputs to the tools around the estimators (issue 21): the CLI, export/load, the scorers.

Every case asserts a clear error raised by sktransfer itself (the innermost
frame in ``sktransfer/``; argparse's usage error for the CLI) whose message
names the problem and the fix, and that the user's files are unchanged. The
scorers' silently wrong results (multi-label entropy, pandas rows) are
checked against values computed by hand.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tiny
from sktransfer import FineTunedClassifier, PretrainedFeatureExtractor, export_weights, load_weights
from sktransfer.metrics import labeled_accuracy_scorer, prediction_entropy_scorer

pytestmark = pytest.mark.usefixtures("one_thread")

SKTRANSFER_DIR = str(Path(__file__).resolve().parents[2] / "sktransfer")


def assert_clear(info, problem, fix):
    """Raised in sktransfer (not numpy, torch, pandas...), naming the problem and the fix."""
    frames = [tb for tb in _walk(info.tb)]
    assert frames[-1].tb_frame.f_code.co_filename.startswith(SKTRANSFER_DIR), \
        f"raised outside sktransfer: {frames[-1].tb_frame.f_code.co_filename}"
    message = str(info.value)
    assert re.search(problem, message, re.S), f"problem {problem!r} not named in: {message}"
    assert re.search(fix, message, re.S), f"fix {fix!r} not named in: {message}"


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _digests(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return FineTunedClassifier(**tiny.FAST).fit(X[:60], y[:60]), X[60:80]


# ----------------------------------------------------------------------------- export / load


def test_export_to_a_folder_or_a_missing_folder(fitted, tmp_path):
    clf, _ = fitted
    with pytest.raises(ValueError) as info:
        export_weights(clf, tmp_path)
    assert_clear(info, r"is a folder", r"Pass a file in it, e\.g\. '.*model\.pt'")
    with pytest.raises(ValueError) as info:
        export_weights(clf, tmp_path / "no" / "such" / "model.pt")
    assert_clear(info, r"folder of '.*model\.pt' does not exist", r"os\.makedirs\(")
    assert list(tmp_path.iterdir()) == []  # nothing written, no partial file


def test_export_of_what_is_no_network_estimator(digits, fitted, tmp_path):
    X, _ = digits
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
                                    verbose=0).fit(X[:4])
    with pytest.raises(TypeError) as info:
        export_weights(fx, tmp_path / "fx.pt")
    assert_clear(info, r"got a PretrainedFeatureExtractor", r"joblib\.dump or pickle")
    with pytest.raises(TypeError) as info:
        export_weights(fitted[0], object())
    assert_clear(info, r"writes to a file path", r"a str or a pathlib\.Path")


def test_export_replaces_an_older_file_whole(fitted, tmp_path):
    clf, X = fitted
    path = tmp_path / "model.pt"
    path.write_bytes(b"older")
    export_weights(clf, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no ".partial" left behind
    np.testing.assert_array_equal(load_weights(path).predict(X), clf.predict(X))


def test_load_of_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(ValueError) as info:
        load_weights(tmp_path / "nope.pt")
    assert_clear(info, r"No such file: '.*nope\.pt'", r"Pass the path export_weights wrote to")
    with pytest.raises(ValueError) as info:
        load_weights(tmp_path)
    assert_clear(info, r"is a folder", r"file written by export_weights")


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_load_of_a_truncated_file(fitted, tmp_path, keep):
    clf, _ = fitted
    path = tmp_path / "model.pt"
    export_weights(clf, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    before = _digests(tmp_path)
    with pytest.raises(ValueError) as info:
        load_weights(path)
    assert_clear(info, r"is truncated or damaged", r"Copy or download it again, or export the model again")
    assert _digests(tmp_path) == before


def _edited(raw, how):
    raw = dict(raw)
    if how == "no-params":
        del raw["params"]
    elif how == "params-not-a-dict":
        raw["params"] = [1, 2]
    elif how == "no-fitted-classes":
        raw["fitted"] = {k: v for k, v in raw["fitted"].items() if k != "image_size_"}
    elif how == "renamed-weights":
        raw["state_dict"] = {k + ".x": v for k, v in raw["state_dict"].items()}
    elif how == "bad-optimizer":
        raw["params"] = {**raw["params"], "optimizer": {"torch.optim": "NoSuchOptimizer"}}
    elif how == "arch-without-backbone":
        raw["arch"] = {k: v for k, v in raw["arch"].items() if k != "backbone"}
    return raw


@pytest.mark.parametrize("how", ["no-params", "params-not-a-dict", "no-fitted-classes", "renamed-weights",
                                 "bad-optimizer", "arch-without-backbone"])
def test_load_of_an_edited_file(fitted, tmp_path, how):
    clf, _ = fitted
    path = tmp_path / "model.pt"
    export_weights(clf, path)
    torch.save(_edited(torch.load(path, weights_only=True), how), path)
    with pytest.raises(ValueError) as info:
        load_weights(path)
    assert_clear(info, r"written by export_weights but its contents were changed or damaged",
                 r"[Ee]xport the fitted model again")


# ----------------------------------------------------------------------------- scorers


def _binary_entropy(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def test_entropy_of_a_multilabel_model_sums_binary_entropies(digits):
    X, y = digits
    Y = np.column_stack([y[:60] >= 5, y[:60] % 2 == 0]).astype(int)
    clf = FineTunedClassifier(**tiny.FAST).fit(X[:60], Y)
    proba = clf.predict_proba(X[60:80])
    expected = -np.mean(_binary_entropy(proba).sum(axis=1))
    assert prediction_entropy_scorer(clf, X[60:80]) == pytest.approx(expected, rel=1e-6)
    assert prediction_entropy_scorer(clf, X[60:80], Y[:20]) == pytest.approx(expected, rel=1e-6)  # 2-D y: all rows
    wrong = np.mean(np.sum(proba * np.log(proba), axis=1))  # the old sum of p log p over the sigmoids
    assert not math.isclose(expected, wrong, rel_tol=1e-3)
    assert labeled_accuracy_scorer(clf, X[60:80], Y[:20]) == pytest.approx(clf.score(X[60:80], Y[:20]))


def test_entropy_of_sklearn_multilabel_and_multioutput_models():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    Y = (X > 0.5).astype(int)
    ovr = OneVsRestClassifier(LogisticRegression()).fit(X, Y)
    assert prediction_entropy_scorer(ovr, X) == pytest.approx(-np.mean(_binary_entropy(ovr.predict_proba(X)).sum(1)))
    forest = RandomForestClassifier(5, random_state=0).fit(X, Y)  # predict_proba: one (n, 2) array per output
    per_output = [np.clip(p, 1e-12, 1) for p in forest.predict_proba(X)]
    expected = -np.mean(sum(-(p * np.log(p)).sum(1) for p in per_output))
    assert prediction_entropy_scorer(forest, X) == pytest.approx(expected)
    single = LogisticRegression().fit(X, Y[:, 0])  # softmax rows: the usual entropy, unchanged
    p = single.predict_proba(X)
    assert prediction_entropy_scorer(single, X) == pytest.approx(np.mean((p * np.log(p)).sum(1)))


def test_scorers_take_pandas_rows_by_position():
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    X = rng.rand(20, 3)
    y = (X[:, 0] > 0.5).astype(int)
    y_mixed = y.copy()
    y_mixed[:6] = -1
    clf = LogisticRegression().fit(X, y)
    frame = pd.DataFrame(X, index=range(100, 120))  # X[ints] would pick columns, or fail on the labels
    assert labeled_accuracy_scorer(clf, frame, y_mixed) == labeled_accuracy_scorer(clf, X, y_mixed)
    assert prediction_entropy_scorer(clf, frame, y_mixed) == pytest.approx(prediction_entropy_scorer(clf, X, y_mixed))
    assert labeled_accuracy_scorer(clf, frame, pd.Series(y_mixed, index=frame.index[::-1])) == \
        labeled_accuracy_scorer(clf, X, y_mixed)


def test_scorers_refuse_mismatched_lengths_and_nan_probabilities():
    from sklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).rand(10, 2)
    clf = LogisticRegression().fit(X, np.arange(10) % 2)
    with pytest.raises(ValueError) as info:
        labeled_accuracy_scorer(clf, X, np.zeros(4))
    assert_clear(info, r"X has 10 images but y has 4 labels", r"one label per image")

    class NaNModel:
        def predict_proba(self, X):
            return np.full((len(X), 2), np.nan)

    with pytest.raises(ValueError) as info:
        prediction_entropy_scorer(NaNModel(), X)
    assert_clear(info, r"NaN or infinite probabilities", r"check that the model trained")


# ----------------------------------------------------------------------------- the CLI


FAST = ["--methods", "pixels", "--labels-per-class", "1", "--seeds", "1", "--no-plot", "-q"]


def _npz(tmp, name="data.npz", **arrays):
    rng = np.random.RandomState(0)
    arrays = {"X": rng.rand(10, 8, 8).astype(np.float32), "y": np.arange(10) % 2, **arrays}
    path = tmp / name
    np.savez(path, **arrays)
    return str(path)


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _folder(tmp):
    for label in "ab":
        (tmp / "folder" / label).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.full((8, 8), 40 * k, np.uint8)).save(tmp / "folder" / label / f"{k}.png")
    return str(tmp / "folder")


CLI_CASES = [
    pytest.param(lambda t: [_npz(t, X=np.array(3.0))], r"X is a single value \(a 0-d array\)",
                 r"shape \(N, H, W\[, C\]\)", id="npz-0d-X"),
    pytest.param(lambda t: [_npz(t, X=_object_array([np.zeros((8, 8))] * 10))],
                 r"array 'X' was saved with dtype=object", r"X=np\.stack\(images\)", id="npz-object-X"),
    pytest.param(lambda t: [_npz(t, y=_object_array([0, 1, "a", None, 0, 1, 0, 1, 0, 1]))],
                 r"array 'y' was saved with dtype=object", r"y=np\.asarray\(labels, dtype=str\)", id="npz-object-y"),
    pytest.param(lambda t: [_npz(t, y=np.array([0, 1] * 4 + [np.nan, 1]))],
                 r"y holds 1 NaN \(missing\) or infinite label\(s\), at image\(s\) 8", r"Drop those images",
                 id="npz-nan-labels"),
    pytest.param(lambda t: [_npz(t, y=np.array([0, 1] * 4 + [np.inf, 1]))],
                 r"y holds 1 NaN \(missing\) or infinite label", r"Drop those images", id="npz-inf-labels"),
    pytest.param(lambda t: [_npz(t, X=np.zeros((10, 64)))], r"X holds flattened images, shape \(10, 64\), and no "
                 r"image shape", r"--input-shape 8 8", id="npz-flat-without-shape"),
    pytest.param(lambda t: [_npz(t, X=np.zeros((10, 64)), input_shape=np.array(["a", "b"]))],
                 r"its input_shape array \['a', 'b'\] is not \(H, W\)", r"input_shape=np\.array\(\[28, 28\]\)",
                 id="npz-stored-shape-not-ints"),
    pytest.param(lambda t: [_npz(t), "--test-size", "0.9"],
                 r"test_size=0.9 \(--test-size\) leaves 1 training and 9 test image\(s\) of 10, for 2 classes",
                 r"Use a test_size between about 0\.20 and 0\.80", id="test-size-0.9"),
    pytest.param(lambda t: [_npz(t), "--target", _npz(t, "target.npz"), "--test-size", "0.95"],
                 r"leaves 0 training and 10 test image\(s\) of 10 in the source", r"Use a test_size",
                 id="test-size-0.95-domain"),
    pytest.param(lambda t: [_npz(t), "--target", _npz(t, "big.npz", X=np.full((10, 8, 8), 1000, np.int64))],
                 r"X holds integers in \[1000, 1000\], but integer images must lie in 0\.\.255",
                 r"Rescale to floats in \[0, 1\]", id="target-int64-out-of-range"),
    pytest.param(lambda t: [_folder(t), "--input-shape", "4", "4"],
                 r"input_shape \(--input-shape\) only reshapes the flattened images of an \.npz file; '.*folder' is "
                 r"not one", r"Drop input_shape.*--image-size", id="input-shape-for-a-folder"),
    pytest.param(lambda t: ["digits", "--input-shape", "4", "4"], r"'digits' is not one", r"Drop input_shape",
                 id="input-shape-for-digits"),
    pytest.param(lambda t: [_npz(t), "--input-shape", "4", "4"],
                 r"X already holds images of shape \(8, 8\), not flattened ones.*\(4, 4\) cannot apply",
                 r"Drop input_shape, or save X flattened", id="input-shape-for-unflattened-npz"),
    pytest.param(lambda t: ["digits", "--target", _folder(t), "--input-shape", "4", "4"],
                 r"neither 'digits' nor the target '.*folder' is one", r"Drop input_shape",
                 id="input-shape-for-neither-domain"),
    pytest.param(lambda t: [_npz(t), "--dask", "bogus"], r"Could not reach a Dask scheduler at 'bogus'",
                 r"pass 'local'", id="dask-not-an-address"),
]


@pytest.mark.parametrize("args, problem, fix", CLI_CASES)
def test_bad_command_line_is_a_usage_error(args, problem, fix, tmp_path, capsys):
    from sktransfer.__main__ import main

    argv = [*args(tmp_path), *FAST, "--output-dir", str(tmp_path / "out")]
    before = _digests(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["benchmark", *argv])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage:" in err and "Traceback" not in err
    assert re.search(problem, err, re.S), f"problem {problem!r} not named in: {err}"
    assert re.search(fix, err, re.S), f"fix {fix!r} not named in: {err}"
    assert _digests(tmp_path) == before and not (tmp_path / "out").exists()


def test_int64_images_of_either_domain_are_read_as_pixels(tmp_path):
    """Integer images 0..255 of any int dtype: the domain mode used to read int64 ones as floats 0..255."""
    from sktransfer.benchmark import run_benchmark

    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (10, 8, 8))
    source = _npz(tmp_path, "source.npz", X=pixels.astype(np.uint8))
    target = _npz(tmp_path, "target.npz", X=pixels.astype(np.int64))
    result = run_benchmark(source, target=target, methods=["pixels"], labels_per_class=[1], n_seeds=1,
                           output_dir=None, verbose=0)
    reverse = run_benchmark(target, target=source, methods=["pixels"], labels_per_class=[1], n_seeds=1,
                            output_dir=None, verbose=0)
    assert result.runs[0]["accuracy"] == reverse.runs[0]["accuracy"]  # the same pixels either way


def test_input_shape_reshapes_a_flat_npz_in_domain_mode(tmp_path):
    """--input-shape applies to the flattened .npz of the two, whichever it is; the other is left alone."""
    from sktransfer.benchmark import run_benchmark

    rng = np.random.RandomState(0)
    flat = _npz(tmp_path, "flat.npz", X=rng.rand(10, 64).astype(np.float32))
    images = _npz(tmp_path, "images.npz")
    for source, target in [(flat, images), (images, flat)]:
        result = run_benchmark(source, target=target, methods=["pixels"], labels_per_class=[1], n_seeds=1,
                               input_shape=(8, 8), output_dir=None, verbose=0)
        assert result.config["n_images"] == 20
