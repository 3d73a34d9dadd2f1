"""rank_backbones, LogME and H-score: the scores' properties, the table, the shared cache, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits

import sktransfer
from sktransfer import PretrainedFeatureExtractor, rank_backbones
from sktransfer.__main__ import main
from sktransfer.ranking import h_score, logme

TINY = dict(weights=None, image_size=32, input_shape=(8, 8), random_state=0)
NETS = ["timm/test_resnet", "timm/test_efficientnet"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:60] / 16.0, y[:60]


# --- LogME and H-score -----------------------------------------------------------------------------

def _informative(rng, y, noise=0.1):
    return np.eye(y.max() + 1)[y] + noise * rng.normal(size=(len(y), y.max() + 1))


def test_logme_prefers_features_that_encode_the_label():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 15)
    perfect, noisy, random = _informative(rng, y, 0.01), _informative(rng, y, 1.0), rng.normal(size=(60, 4))
    assert logme(perfect, y) > logme(noisy, y) > logme(random, y)
    assert h_score(perfect, y) > h_score(random, y)


def test_logme_invariances():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 10)
    F = _informative(rng, y, 0.5) @ rng.normal(size=(3, 5))
    rows, cols = rng.permutation(30), rng.permutation(5)
    base = logme(F, y)
    assert logme(F[rows], y[rows]) == pytest.approx(base, rel=1e-9)  # sample order
    assert logme(F[:, cols], y) == pytest.approx(base, rel=1e-9)  # feature order
    assert logme(F, np.array(["c", "a", "b"])[y]) == pytest.approx(base, rel=1e-9)  # label names
    # A rotation of the features leaves the evidence unchanged (the prior on w is isotropic).
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert logme(F @ Q, y) == pytest.approx(base, rel=1e-7)


def _brute_evidence(F, t, log_alpha, log_beta):
    """log N(t; 0, I / beta + F F^T / alpha) / n: the evidence of the model, written directly."""
    alpha, beta = math.exp(log_alpha), math.exp(log_beta)
    cov = np.eye(len(t)) / beta + F @ F.T / alpha
    return multivariate_normal(np.zeros(len(t)), cov).logpdf(t) / len(t)


@pytest.mark.parametrize("shape", [(12, 3), (6, 9)])  # more images than features, and fewer
def test_logme_is_the_maximised_evidence(shape):
    """The SVD fixed point reaches the maximum a generic optimiser finds on the evidence written directly."""
    rng = np.random.default_rng(2)
    n, d = shape
    y = np.arange(n) % 2
    F = rng.normal(size=(n, d)) + y[:, None]
    best = []
    for k in (0, 1):
        t = (y == k).astype(float)
        res = minimize(lambda p: -_brute_evidence(F, t, *p), x0=[0.0, 0.0], method="Nelder-Mead",
                       options=dict(xatol=1e-8, fatol=1e-12, maxiter=4000))
        best.append(-res.fun)
    assert logme(F, y) == pytest.approx(np.mean(best), abs=1e-6)


def test_logme_stays_finite_when_a_feature_is_the_label():
    y = np.array([1, 1, 0, 0, 1, 0])
    perfect = np.c_[y, 1 - y].astype(float)  # every class column fitted exactly: unbounded evidence
    assert np.isfinite(logme(perfect, y)) and logme(perfect, y) > logme(perfect + 0.1 * np.arange(6)[:, None], y)


def test_logme_regression_value():
    # A hand-checkable case: 4 images, one feature that nearly is the class indicator.
    F = np.array([[1.0], [0.8], [0.1], [-0.2]])
    y = np.array([1, 1, 0, 0])
    assert logme(F, y) == pytest.approx(0.5 * (_max_brute(F, y == 0) + _max_brute(F, y == 1)), abs=1e-6)
    assert logme(F, y) == pytest.approx(-0.6133, abs=1e-3)  # recorded when written; a change means new maths


def _max_brute(F, t):
    t = t.astype(float)
    res = minimize(lambda p: -_brute_evidence(F, t, *p), x0=[0.0, 0.0], method="Nelder-Mead",
                   options=dict(xatol=1e-9, fatol=1e-13, maxiter=4000))
    return -res.fun


@pytest.mark.parametrize("features, y, message", [
    (np.zeros(5), np.zeros(5), "2-D array"),
    (np.zeros((5, 2)), np.zeros(4), "one label per row"),
    (np.ones((4, 2)), np.zeros(4), "at least 2 classes"),
    (np.full((4, 2), np.nan), np.array([0, 0, 1, 1]), "NaN or infinite"),
])
def test_score_errors(features, y, message):
    for score in (logme, h_score):
        with pytest.raises(ValueError, match=message):
            score(features, y)


# --- rank_backbones -------------------------------------------------------------------------------

def test_exported():
    assert "rank_backbones" in sktransfer.__all__ and sktransfer.rank_backbones is rank_backbones


def test_table_order_and_columns(digits):
    X, y = digits
    table = rank_backbones(X, y, backbones=NETS, layers=["auto", None, [1, 2]], scoring=["logme", "hscore"], **TINY)
    assert table.columns.tolist() == ["backbone", "layer", "blocks", "n_features", "logme", "hscore",
                                      "feature_time", "score_time", "rank"]
    assert len(table) == 6 and table["rank"].tolist() == list(range(1, 7))
    assert table["logme"].is_monotonic_decreasing
    assert set(zip(table["backbone"], map(repr, table["layer"]))) == {
        (b, repr(layer)) for b in NETS for layer in ["auto", None, [1, 2]]}
    final = table[table["layer"].isna()]
    assert final["blocks"].tolist() == [None, None] and (final["layer"].map(type) == type(None)).all()
    assert (table["feature_time"] > 0).all() and (table["score_time"] >= 0).all()
    # The table's layer is a valid layer= of the extractor: its width is the row's n_features.
    row = table.iloc[0]
    fx = PretrainedFeatureExtractor(row["backbone"], layer=row["layer"], verbose=0, **TINY)
    assert fx.fit_transform(X).shape[1] == row["n_features"]


def test_standardized_scores_ignore_each_feature_s_scale(digits, monkeypatch):
    """With standardize=True (default) the score is that of the standardised features, whatever their scale:
    a probe behind a StandardScaler does not see it either."""
    X, y = digits
    import sktransfer.ranking as ranking

    features = {}
    real = ranking._score_row

    def spy(name, layer, blocks, scored, seconds, y, scoring):
        features[name] = scored
        return real(name, layer, blocks, scored, seconds, y, scoring)

    monkeypatch.setattr(ranking, "_score_row", spy)
    std = rank_backbones(X, y, backbones=NETS[:1], **TINY)
    scored = features[NETS[0]]
    np.testing.assert_allclose(scored.mean(axis=0), 0, atol=1e-9)
    assert np.allclose(scored.std(axis=0)[scored.std(axis=0) > 0], 1)
    scaled = scored * np.linspace(1, 1000, scored.shape[1])
    assert math.isclose(logme(scaled, y), logme(scored, y), rel_tol=1e-3) is False  # LogME sees raw scale
    raw = rank_backbones(X, y, backbones=NETS[:1], standardize=False, **TINY)
    assert raw["logme"].iloc[0] != std["logme"].iloc[0]
    assert math.isclose(std["logme"].iloc[0], logme(scored, y), rel_tol=1e-9)


def test_dict_output_matches_the_frame(digits):
    X, y = digits
    frame = rank_backbones(X, y, backbones=NETS, **TINY)
    table = rank_backbones(X, y, backbones=NETS, as_frame=False, **TINY)
    assert isinstance(table, dict) and table["backbone"] == frame["backbone"].tolist()
    np.testing.assert_allclose(table["logme"], frame["logme"], rtol=1e-6)


def test_shared_pass_scores_as_separate_extractors(digits, tmp_path):
    """Without memory a backbone's layers share one pass; with memory each has its own: same scores."""
    X, y = digits
    layers = ["auto", None, 1, [2, 3]]
    shared = rank_backbones(X, y, backbones=NETS, layers=layers, **TINY)
    separate = rank_backbones(X, y, backbones=NETS, layers=layers, memory=tmp_path, **TINY)
    key = lambda t: dict(zip(zip(t["backbone"], map(repr, t["layer"])), t["logme"]))  # noqa: E731
    assert key(shared) == pytest.approx(key(separate), rel=1e-4)
    assert sorted(shared["n_features"]) == sorted(separate["n_features"])


def test_memory_is_shared_with_the_extractor(digits, tmp_path, monkeypatch):
    """Ranking, then fitting the chosen candidate with the same memory, runs the backbone once per candidate."""
    import sktransfer.runtimes._state as features_module  # where the extractor runs its encoder

    calls = []
    real = features_module.encode_batches

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(features_module, "encode_batches", spy)
    X, y = digits
    table = rank_backbones(X, y, backbones=NETS, layers=["auto", None], memory=tmp_path, **TINY)
    assert len(calls) == 4  # each candidate computed once, through the extractor
    best = table.iloc[0]
    fx = PretrainedFeatureExtractor(best["backbone"], layer=best["layer"], memory=str(tmp_path), verbose=0, **TINY)
    fx.fit(X).transform(X)
    assert len(calls) == 4  # read from the ranking's cache
    again = rank_backbones(X, y, backbones=NETS, layers=["auto", None], memory=tmp_path, **TINY)
    assert len(calls) == 4  # ranking again computes nothing
    np.testing.assert_allclose(again["logme"], table["logme"])
    fx.set_params(memory=None).transform(X)
    assert len(calls) == 5  # the spy counts: without the cache the backbone runs


def test_verbose_prints_a_line_per_candidate(digits, capsys):
    X, y = digits
    rank_backbones(X, y, backbones=NETS, verbose=1, **TINY)
    err = capsys.readouterr().err
    assert err.count("[rank]") == 2 and "timm/test_resnet layer='auto': logme=" in err


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(backbones=[]), TypeError, "non-empty list of backbone names"),
    (dict(backbones=[3]), TypeError, "each must be a name"),
    (dict(backbones=["timm/test_resnet", "timm/test_resnet"]), ValueError, "twice"),
    (dict(layers=[]), ValueError, "layers is an empty list"),
    (dict(layers=[1.5]), TypeError, "each candidate is 'auto', None"),
    (dict(layers=[True]), TypeError, "each candidate is 'auto', None"),
    (dict(layers=[None, None]), ValueError, "candidate twice"),
    (dict(layers=[99]), ValueError, "out of range"),
    (dict(scoring="accuracy"), ValueError, "scoring='accuracy' is not supported"),
    (dict(as_frame="yes"), ValueError, "as_frame='yes'"),
    (dict(standardize="yes"), TypeError, "standardize must be True or False"),
])
def test_bad_arguments(digits, kwargs, error, message):
    X, y = digits
    params = {**TINY, "backbones": NETS[:1], **kwargs}
    with pytest.raises(error, match=message):
        rank_backbones(X, y, **params)


@pytest.mark.parametrize("labels, message", [
    (lambda y: y[:-1], "60 images but y has 59 labels"),
    (lambda y: np.zeros_like(y), "single class"),
    (lambda y: np.where(y == 3, -1, y), "rank on the labelled images only"),
    (lambda y: y.reshape(-1, 1), "1-D array"),
    (lambda y: np.where(y == 3, np.nan, y), "NaN"),
])
def test_bad_labels(digits, labels, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        rank_backbones(X, labels(y), backbones=NETS[:1], **TINY)


def test_bad_images_fail_before_any_backbone_loads(digits):
    X, y = digits
    with pytest.raises(ValueError, match="input_shape"):
        rank_backbones(X, y, backbones=["no-such-backbone"], weights=None)  # 2-D X without input_shape


# --- the command line -------------------------------------------------------------------------------

CLI = ["rank", "digits", "--backbones", *NETS, "--weights", "none", "--max-images", "40", "--image-size", "32"]


def test_cli_prints_the_table(capsys):
    assert main([*CLI, "--layers", "auto", "final", "1,2", "--scoring", "logme", "hscore", "--quiet"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].split() == ["backbone", "layer", "n_features", "logme", "hscore", "feature_time", "score_time",
                                "rank"]
    assert len(lines) == 7 and [line.split()[-1] for line in lines[1:]] == [str(i) for i in range(1, 7)]
    assert {line.split()[1] for line in lines[1:]} == {"auto", "final", "1,2"}
    assert err == ""  # --quiet


def test_cli_progress_lines(capsys):
    assert main(CLI) == 0
    assert capsys.readouterr().err.count("[rank]") == 2


@pytest.mark.parametrize("argv, message", [
    (["rank", "no-such-dataset"], "Unknown dataset 'no-such-dataset'"),
    ([*CLI, "--layers", "1,,2"], "is not a layer"),
    ([*CLI, "--layers", "99"], "out of range"),
    ([*CLI, "--max-images", "0"], "0 is not a positive int"),
    ([*CLI, "--scoring", "accuracy"], "invalid choice"),
    ([*CLI, "--input-shape", "8", "8"], "only reshapes the flattened images of an .npz"),
    ([*CLI, "--input-shape", "8"], "--input-shape takes H W or H W C"),
])
def test_cli_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_npz_and_memory(tmp_path, capsys):
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "d.npz", X=X[:40].reshape(-1, 8, 8) / 16.0, y=y[:40])
    argv = ["rank", str(tmp_path / "d.npz"), "--backbones", NETS[0], "--weights", "none", "--image-size", "32",
            "--memory", str(tmp_path / "cache"), "-q"]
    assert main(argv) == 0
    assert any((tmp_path / "cache").rglob("output.pkl"))  # the extractor's joblib cache was written
    assert NETS[0] in capsys.readouterr().out
