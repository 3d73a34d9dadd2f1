import os
import pickle

import joblib
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

import sktransfer.runtimes._state as features_module  # where the extractor runs its encoder (runtime="torch")
from sktransfer import PretrainedFeatureExtractor
from sktransfer._auto import layer_candidates
from sktransfer._progress import progress_bar

FAST = dict(backbone="timm/resnet18", weights=None, image_size=32, verbose=0)


def lite(**kw):
    params = dict(image_size=32, input_shape=(8, 8), verbose=0)
    params.update(kw)
    return PretrainedFeatureExtractor(**params)


def test_digits_mid_level_features_beat_raw_pixels(digits):
    """Real data, fixed split, 20 labels per class, the same classifier on both.

    ImageNet's final features are too specific for 8x8 digits; the multi-scale
    mid-level blocks transfer. Measured here: pixels 0.922, features 0.949.
    """
    X, y = digits
    rng = np.random.RandomState(0)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in range(10)])
    test = np.setdiff1d(np.arange(len(y)), train)
    clf = LogisticRegression(max_iter=3000)
    pixels = clone(clf).fit(X[train], y[train]).score(X[test], y[test])
    probe = make_pipeline(lite(image_size=64, layer=[3, 4, 5]), clone(clf))
    transfer = probe.fit(X[train], y[train]).score(X[test], y[test])
    print(f"digits, 20 labels/class: pixels {pixels:.3f}, efficientnet_lite0 features {transfer:.3f}")
    assert transfer >= pixels + 0.015, (pixels, transfer)
    # layer="auto" (the default) reads those blocks by itself for small images; the final layer would lose.
    auto = make_pipeline(lite(image_size=64), clone(clf)).fit(X[train], y[train])
    assert auto[0].layers_ == [3, 4, 5]
    np.testing.assert_allclose(auto.score(X[test], y[test]), transfer)
    final = make_pipeline(lite(image_size=64, layer=None), clone(clf)).fit(X[train], y[train])
    assert final.score(X[test], y[test]) < pixels, "the reason layer='auto' exists"


def test_output_shapes_for_layers_and_poolings(digits):
    X = digits[0][:6]
    assert lite(layer=None).fit_transform(X).shape == (6, 1280)
    assert lite(layer=None, pooling="avgmax").fit_transform(X).shape == (6, 2560)
    assert lite(layer="blocks.2", pooling="none").fit(X).transform(X).shape == (6, 40 * 4 * 4)
    multi = lite(layer=[2, -1], pooling="gem").fit(X)
    out = multi.transform(X)
    assert out.shape == (6, 24 + 1280) and out.dtype == np.float32
    assert len(multi.get_feature_names_out()) == out.shape[1]
    maxed = lite(pooling="max").fit_transform(X)
    avg = lite(pooling="avg").fit_transform(X)
    assert np.all(maxed >= avg - 1e-5)  # a max is never below the mean


def test_intermediate_layer_matches_a_manual_forward(digits):
    X = digits[0][:4]
    fx = lite(layer="blocks.1").fit(X)
    images = torch.from_numpy(np.rint(X * 255).astype(np.uint8).reshape(4, 1, 8, 8))
    encoder = fx.encoder_
    with torch.no_grad():
        x = encoder.preprocess(images)
        model = fx.backbone_.trunk.model
        x = model.bn1(model.conv_stem(x))
        x = model.blocks[1](model.blocks[0](x))
    np.testing.assert_allclose(fx.transform(X), x.mean((2, 3)).numpy(), rtol=1e-4, atol=1e-5)


def test_all_input_forms_give_the_same_features(digits, image_files):
    paths, _ = image_files
    X = digits[0][:12]
    fx = lite().fit(X)
    reference = fx.transform(X)
    as_uint8 = np.rint(X.reshape(12, 8, 8) * 255).astype(np.uint8)
    np.testing.assert_allclose(fx.transform(paths), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fx.transform([Image.fromarray(a) for a in as_uint8]), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fx.transform(torch.from_numpy(as_uint8)[:, None]), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fx.transform(as_uint8[..., None]), reference, rtol=1e-5, atol=1e-6)


def test_photos_of_different_sizes(photos):
    fx = PretrainedFeatureExtractor(verbose=0).fit(photos)
    out = fx.transform(photos)
    assert fx.layers_ is None  # layer="auto": photographs get the final features
    assert out.shape == (2, 1280) and np.isfinite(out).all()
    assert not np.allclose(out[0], out[1])


def test_batch_size_does_not_change_features(digits):
    X = digits[0][:10]
    np.testing.assert_allclose(lite(batch_size=3).fit_transform(X), lite(batch_size=64).fit_transform(X),
                               rtol=1e-4, atol=1e-5)


def test_init_stores_only_and_clone_is_cheap():
    fx = PretrainedFeatureExtractor(layer=[1, 2], memory=None)
    assert fx.layer == [1, 2] and not hasattr(fx, "backbone_")
    with pytest.raises(NotFittedError):
        fx.transform(np.zeros((1, 8, 8)))
    fitted = lite().fit(np.zeros((2, 8, 8)))
    cloned = clone(fitted)
    assert not hasattr(cloned, "encoder_") and cloned.get_params() == fitted.get_params()


def test_n_features_in_only_for_flattened_input(digits):
    X = digits[0][:4]
    fx = lite().fit(X)
    assert fx.n_features_in_ == 64
    with pytest.raises(ValueError, match="X has 49 features"):
        fx.set_params(input_shape=(7, 7)).transform(np.zeros((2, 49)))
    fx = lite(input_shape=None).fit(X.reshape(4, 8, 8))
    assert not hasattr(fx, "n_features_in_")


def test_set_output_pandas_and_html_repr(digits):
    pd = pytest.importorskip("pandas")
    fx = lite().set_output(transform="pandas").fit(digits[0][:3])
    out = fx.transform(digits[0][:3])
    assert isinstance(out, pd.DataFrame) and list(out.columns[:2]) == [
        "pretrainedfeatureextractor0", "pretrainedfeatureextractor1"]
    assert "PretrainedFeatureExtractor" in estimator_html_repr(fx)


def test_pickle_is_small_and_identical(digits):
    X = digits[0][:5]
    fx = lite().fit(X)
    blob = pickle.dumps(fx)
    assert len(blob) < 20_000  # configuration only: the public weights are not copied
    np.testing.assert_array_equal(pickle.loads(blob).transform(X), fx.transform(X))


def test_random_init_weights_survive_pickle(tmp_path, digits):
    X = digits[0][:5]
    torch.manual_seed(0)
    fx = PretrainedFeatureExtractor(input_shape=(8, 8), **FAST).fit(X)
    joblib.dump(fx, tmp_path / "fx.joblib")
    torch.manual_seed(1)  # a rebuilt random init would differ
    np.testing.assert_array_equal(joblib.load(tmp_path / "fx.joblib").transform(X), fx.transform(X))
    state = fx.__getstate__()["_trunk_state"]
    assert state and all(t.device.type == "cpu" for t in state.values())


def test_pickle_and_cache_follow_the_fit_not_later_set_params(digits, tmp_path):
    """set_params without a re-fit must not change what a pickle or the cache holds."""
    X = digits[0][:5]
    torch.manual_seed(0)
    fx = PretrainedFeatureExtractor(input_shape=(8, 8), memory=str(tmp_path), **FAST).fit(X)
    expected = fx.transform(X)
    fx.set_params(backbone="efficientnet_lite0", weights="default", pooling="max")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fx)).transform(X), expected)
    np.testing.assert_array_equal(fx.transform(X), expected)  # same encoder, same cache entry


def test_custom_module_is_not_modified(digits):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    before = [p.clone() for p in net.parameters()]
    fx = PretrainedFeatureExtractor(net, image_size=16, input_shape=(8, 8), verbose=0).fit(digits[0][:3])
    assert fx.transform(digits[0][:3]).shape == (3, 4)
    assert fx.backbone_.trunk is not net
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    again = pickle.loads(pickle.dumps(fx))
    np.testing.assert_array_equal(again.transform(digits[0][:3]), fx.transform(digits[0][:3]))


def test_memory_caches_features(tmp_path, digits, monkeypatch, image_files):
    X = digits[0][:8]
    calls = []
    real = features_module.encode_batches
    monkeypatch.setattr(features_module, "encode_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    fx = lite(memory=str(tmp_path / "cache")).fit(X)
    first = fx.transform(X)
    np.testing.assert_array_equal(clone(fx).fit(X).transform(X), first)  # a clone shares the cache
    assert len(calls) == 1
    fx.set_params(pooling="max").fit(X).transform(X)
    assert len(calls) == 2  # another pooling is another result
    paths, _ = image_files
    fx.transform(paths)
    fx.transform(paths)
    assert len(calls) == 3
    os.utime(paths[0], (1, 1))  # a changed file is read again
    fx.transform(paths)
    assert len(calls) == 4


def test_memory_takes_a_pathlib_path(tmp_path, digits, monkeypatch):
    X = digits[0][:8]
    calls = []
    real = features_module.encode_batches
    monkeypatch.setattr(features_module, "encode_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = lite(memory=tmp_path / "cache").fit(X).transform(X)  # a Path, as the constraint allows
    np.testing.assert_array_equal(lite(memory=str(tmp_path / "cache")).fit(X).transform(X), first)
    assert len(calls) == 1  # the same cache as its string


def test_grid_search_and_cross_val_score(digits, tmp_path):
    X, y = digits[0][:60], digits[1][:60]
    pipe = make_pipeline(lite(layer=[3, 4], memory=str(tmp_path)), StandardScaler(), LogisticRegression(max_iter=500))
    for n_jobs in (1, 2):
        scores = cross_val_score(pipe, X, y, cv=3, n_jobs=n_jobs)
        assert scores.shape == (3,) and scores.mean() > 0.5
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2, n_jobs=2).fit(X, y)
    assert search.best_estimator_.predict(X).shape == (60,)


def test_bad_parameters_and_failed_refit_keep_the_model(digits):
    X = digits[0][:4]
    fx = lite().fit(X)
    reference = fx.transform(X)
    with pytest.raises(ValueError, match="out of range"):
        fx.set_params(layer=40).fit(X)
    with pytest.raises(ValueError, match="pooling"):
        fx.set_params(layer=None, pooling="median").fit(X)
    with pytest.raises(ValueError, match="image_size"):
        fx.set_params(pooling="avg", image_size=(3, 4, 5)).fit(X)
    with pytest.raises(ValueError, match="X / 16.0"):
        fx.set_params(image_size=32).fit(X * 16)
    np.testing.assert_array_equal(fx.transform(X), reference)


def test_device_errors(digits):
    with pytest.raises(ValueError, match="not a device"):
        lite(device="banana").fit(digits[0][:2])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
            lite(device="cuda").fit(digits[0][:2])
    assert lite(device="auto").fit(digits[0][:2]).device_.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_progress_bar_follows_verbose():
    with progress_bar(10, 0, "x") as bar:
        assert bar is None
    with progress_bar(10, 1, "x") as bar:
        assert bar is not None and bar.total == 10
        assert bar.disable  # pytest's captured stderr is not a terminal


def test_torch_threads_untouched(digits):
    before = torch.get_num_threads()
    lite().fit_transform(digits[0][:2])
    assert torch.get_num_threads() == before


def test_random_init_is_reproducible_with_random_state(digits):
    X = digits[0][:6]
    params = dict(backbone="timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                  input_shape=(8, 8))
    a = PretrainedFeatureExtractor(**params, random_state=0).fit(X).transform(X)
    np.testing.assert_array_equal(PretrainedFeatureExtractor(**params, random_state=0).fit(X).transform(X), a)
    assert not np.allclose(PretrainedFeatureExtractor(**params, random_state=1).fit(X).transform(X), a)


def test_memory_hits_across_clones_for_random_init_and_own_modules(tmp_path, digits, monkeypatch):
    """One feature set per distinct network: clones of a seeded random init, or of a user's module, share it."""
    X = digits[0][:8]
    calls = []
    real = features_module.encode_batches
    monkeypatch.setattr(features_module, "encode_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    for backbone, weights in (("timm/test_resnet", None), (net, "default")):
        fx = PretrainedFeatureExtractor(backbone, weights=weights, image_size=16, layer=None, verbose=0,
                                        input_shape=(8, 8), random_state=0, memory=str(tmp_path / "cache"))
        first = fx.fit(X).transform(X)
        for _ in range(2):
            np.testing.assert_array_equal(clone(fx).fit(X).transform(X), first)
    assert len(calls) == 2  # one computation per network, not one per clone


def test_file_key_content_sees_a_rewrite_that_stat_misses(tmp_path, digits):
    paths = []
    for i in range(3):  # BMP: the file's size depends on the image's size only
        paths.append(str(tmp_path / f"d{i}.bmp"))
        Image.fromarray(np.rint(digits[0][i].reshape(8, 8) * 255).astype(np.uint8)).save(paths[-1])
    fx = lite(memory=str(tmp_path / "cache"), file_key="stat").fit(paths)
    by_content = clone(fx).set_params(file_key="content").fit(paths)
    before_stat, before_content = fx.transform(paths), by_content.transform(paths)
    stat = os.stat(paths[0])
    Image.fromarray(255 - np.asarray(Image.open(paths[0]))).save(paths[0])  # new pixels, same size...
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and the same modification time
    assert os.path.getsize(paths[0]) == stat.st_size
    np.testing.assert_array_equal(fx.transform(paths), before_stat)  # "stat": stale, as documented
    fresh = by_content.transform(paths)
    assert not np.allclose(fresh[0], before_content[0]) and np.allclose(fresh[1:], before_content[1:])


def _rewrite(paths, seed):
    """New pixels in every file, and a modification time a few seconds later (past any file system's resolution)."""
    rng = np.random.RandomState(seed)
    for path in paths:
        mtime = os.stat(path).st_mtime
        Image.fromarray(rng.randint(0, 256, (8, 8)).astype(np.uint8)).save(path)
        os.utime(path, (mtime + 5, mtime + 5))


@pytest.mark.parametrize("file_key", ["stat", "content"])
@pytest.mark.parametrize("make", [
    pytest.param(list, id="list"),
    pytest.param(tuple, id="tuple"),
    pytest.param(np.array, id="str-array"),
    pytest.param(lambda p: np.array(p, dtype=object), id="object-array"),
    pytest.param(lambda p: __import__("pandas").Series(p, index=np.arange(10, 10 + len(p))), id="series"),
    pytest.param(lambda p: __import__("pandas").Index(p), id="pandas-index"),
])
def test_memory_sees_rewritten_files_in_every_container_of_paths(tmp_path, image_files, make, file_key):
    """Issue 21: an array or a Series of paths served the features of the files' old content."""
    paths = image_files[0][:4]
    params = dict(backbone="timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0, random_state=0)
    fx = PretrainedFeatureExtractor(**params, memory=str(tmp_path / "cache"), file_key=file_key).fit(make(paths))
    before = fx.transform(make(paths))
    _rewrite(paths, seed=0)
    after = fx.transform(make(paths))
    expected = PretrainedFeatureExtractor(**params).fit(paths).transform(paths)  # no cache: the truth
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, expected)


@pytest.mark.parametrize("params, match", [
    ({"batch_size": 0}, r"'batch_size' parameter of PretrainedFeatureExtractor must be an int in the range \[1"),
    ({"file_key": "mtime"}, r"'file_key' parameter .* must be a str among"),
    ({"random_state": "seed"}, r"'random_state' parameter"),
    ({"verbose": "loud"}, r"'verbose' parameter"),
    ({"memory": "/proc/sktransfer-no-cache"}, r"memory='/proc/sktransfer-no-cache' is not a writable folder.*"
                                              r"memory=None for no cache"),
])
def test_parameters_set_after_fit_are_checked_at_transform(digits, params, match):
    """What transform uses is validated there too: a clear error, and the fitted model still works."""
    X = digits[0][:4]
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                                    input_shape=(8, 8), random_state=0).fit(X)
    reference = fx.transform(X)
    good = {k: fx.get_params()[k] for k in params}
    with pytest.raises(ValueError, match=match):
        fx.set_params(**params).transform(X)
    np.testing.assert_array_equal(fx.set_params(**good).transform(X), reference)


def test_memory_takes_an_image_set_and_keys_it_by_its_pixels(tmp_path, digits, monkeypatch):
    """An ImageSet's loader cannot be pickled, so joblib could not hash it (a raw PicklingError before)."""
    from sktransfer.images import as_image_set

    calls = []
    real = features_module.encode_batches
    monkeypatch.setattr(features_module, "encode_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    X = digits[0][:6]
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                                    input_shape=(8, 8), random_state=0, memory=str(tmp_path / "cache")).fit(X)
    first = fx.transform(as_image_set(X, input_shape=(8, 8)))
    np.testing.assert_array_equal(fx.transform(as_image_set(X, input_shape=(8, 8))), first)
    assert len(calls) == 1  # the same pixels: a hit
    other = fx.transform(as_image_set(X[::-1], input_shape=(8, 8)))
    assert len(calls) == 2 and np.allclose(other, first[::-1], atol=1e-5)


def test_transform_reads_x_for_the_fitted_backbone_not_a_later_parameter(digits, monkeypatch):
    """A backbone set after fit is used by the next fit only; transform must not even look it up."""
    X = digits[0][:3]
    fx = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                                    input_shape=(8, 8), random_state=0).fit(X)
    reference = fx.transform(X)
    calls = []
    import sktransfer.estimators._features as extractor_module

    real = extractor_module.backbone_inputs
    monkeypatch.setattr(extractor_module, "backbone_inputs", lambda X, b, shape: calls.append(b) or real(X, b, shape))
    fx.set_params(backbone="efficientnet_lite0", weights="default")
    np.testing.assert_array_equal(fx.transform(X), reference)
    assert calls == ["timm/test_resnet"]


# --------------------------------------------------------------------------- layer="auto" with y, image_size="auto"

TINY = dict(backbone="timm/test_resnet", weights=None, input_shape=(8, 8), verbose=0, random_state=0)


def _per_class(y, n):
    return np.concatenate([np.flatnonzero(y == c)[:n] for c in np.unique(y)])


def test_auto_layer_with_y_chooses_the_blocks_the_classifiers_probe_chooses(digits):
    """Pretrained Lite0 on 8x8 digits at 128 px (both candidates offered): the mid-level blocks win the
    cross-validated probe, the extractor reads them, and so does the classifier's probe on the same data."""
    from sktransfer import FineTunedClassifier

    X, y = digits
    rows = _per_class(y, 10)
    fx = lite(image_size=128).fit(X[rows], y[rows])
    scores = fx.probe_scores_
    assert set(scores) == {"final", "mid"} and all(0.0 <= s <= 1.0 for s in scores.values())
    assert fx.layers_ == ([3, 4, 5] if scores["mid"] > scores["final"] else None)  # the scores decided
    assert scores["mid"] > scores["final"] + 0.05 and fx.layers_ == [3, 4, 5], scores  # glyphs: the middle
    clf = FineTunedClassifier(trainable_blocks=0, image_size=128, input_shape=(8, 8), random_state=0,
                              verbose=0).fit(X[rows], y[rows])
    assert clf.layers_ == fx.layers_ and clf.image_size_ == fx.image_size_ == (128, 128)
    assert set(clf.probe_scores_) == set(scores)
    # Without y, today's rule: small images, mid-level blocks; nothing was validated.
    unlabelled = lite(image_size=128).fit(X[rows])
    assert unlabelled.layers_ == [3, 4, 5] and unlabelled.probe_scores_ is None


def test_auto_image_size_is_the_classifiers(digits):
    from sktransfer import FineTunedClassifier
    from sktransfer.backbones import get_backbone

    X, y = digits[0][:20], digits[1][:20]
    wide = np.random.default_rng(0).random((20, 100, 60))  # larger side 100 -> 128 px
    for images, shape in ((X, (8, 8)), (wide, None)):
        fx = PretrainedFeatureExtractor(**{**TINY, "input_shape": shape}).fit(images)
        assert fx.image_size == "auto"  # the default
        clf = FineTunedClassifier("timm/test_resnet", weights=None, trainable_blocks=0, input_shape=shape,
                                  random_state=0, verbose=0).fit(images, y)
        assert fx.image_size_ == clf.image_size_ == ((32, 32) if shape else (128, 128))
    assert PretrainedFeatureExtractor(**{**TINY, "image_size": None}).fit(X).image_size_ == (160, 160)
    assert PretrainedFeatureExtractor(**{**TINY, "image_size": 48}).fit(X).image_size_ == (48, 48)
    fixed = get_backbone("timm/test_resnet", weights=None)
    fixed.extra["fixed_input_size"] = True  # as a ViT: one size only, which "auto" keeps
    assert PretrainedFeatureExtractor(**{**TINY, "backbone": fixed}).fit(X).image_size_ == (160, 160)


def test_probe_scores_decide_and_fit_transform_reuses_the_chosen_features(digits, monkeypatch):
    X, y = digits[0][:60], digits[1][:60]
    fx = PretrainedFeatureExtractor(**TINY, image_size=128)
    calls = []
    real = features_module.encode_batches
    monkeypatch.setattr(features_module, "encode_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = fx.fit_transform(X, y)
    assert calls == []  # transform's path never ran: the chosen candidate's features were at hand
    best = max(fx.probe_scores_, key=lambda name: (fx.probe_scores_[name], name == "mid"))  # ties: mid
    candidates = layer_candidates(len(fx.backbone_.blocks), (128, 128))
    assert candidates == {"mid": [1, 2, 3], "final": None} and fx.layers_ == candidates[best]
    np.testing.assert_array_equal(out, fx.transform(X))
    assert calls == [1]
    pd = pytest.importorskip("pandas")
    frame = clone(fx).set_output(transform="pandas").fit_transform(X, y)
    assert isinstance(frame, pd.DataFrame) and frame.shape == out.shape


def test_pipeline_and_cross_val_score_choose_per_fit(digits):
    X, y = digits[0][:90], digits[1][:90]
    pipe = make_pipeline(PretrainedFeatureExtractor(**TINY, image_size=128), StandardScaler(),
                         LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.2  # random weights: well above chance (0.1)
    fitted = pipe.fit(X, y)
    assert set(fitted[0].probe_scores_) == {"final", "mid"}
    assert fitted.predict(X).shape == (90,)


def test_unlabelled_rows_are_left_out_of_the_choice(digits):
    X, y = digits[0][:60], digits[1][:60].copy()
    semi = y.copy()
    semi[::3] = -1
    labelled = semi != -1
    partial = PretrainedFeatureExtractor(**TINY, image_size=128)
    out = partial.fit_transform(X, semi)
    assert out.shape[0] == 60  # every image's features, the unlabelled ones too
    alone = PretrainedFeatureExtractor(**TINY, image_size=128).fit(X[labelled], y[labelled])
    assert partial.layers_ == alone.layers_
    assert partial.probe_scores_ == pytest.approx(alone.probe_scores_)
    nobody = PretrainedFeatureExtractor(**TINY, image_size=128).fit(X, np.full(60, -1))
    assert nobody.probe_scores_ is None  # no labels: the rule without y (small images: mid-level blocks)
    assert nobody.layers_ == PretrainedFeatureExtractor(**TINY, image_size=128).fit(X).layers_ == [1, 2, 3]


def test_other_targets_choose_with_their_probe(digits):
    X, y = digits[0][:40], digits[1][:40]
    continuous = PretrainedFeatureExtractor(**TINY, image_size=128).fit(X, X.mean(axis=1))
    assert set(continuous.probe_scores_) == {"final", "mid"}  # ridge's R², which can be below 0
    labels = np.column_stack([y % 2, y > 4]).astype(int)
    multilabel = PretrainedFeatureExtractor(**TINY, image_size=128).fit(X, labels)
    assert set(multilabel.probe_scores_) == {"final", "mid"}
    assert all(0.0 <= s <= 1.0 for s in multilabel.probe_scores_.values())  # subset accuracy


def test_bad_y_is_refused_unless_the_layer_is_given(digits):
    X, y = digits[0][:10], digits[1][:10]
    fx = PretrainedFeatureExtractor(**TINY)
    with pytest.raises(ValueError, match="X has 10 images but y has 9 targets; pass one target per image"):
        fx.fit(X, y[:9])
    with pytest.raises(ValueError, match=r"'multiclass-multioutput'.*layer=None"):
        fx.fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match=r"y has shape \(10, 2, 1\); pass one target per image"):
        fx.fit(X, np.zeros((10, 2, 1)))
    assert not hasattr(fx, "layers_")  # nothing was fitted
    assert fx.set_params(layer=None).fit(X, y[:9]).probe_scores_ is None  # y unused: ignored, as before
