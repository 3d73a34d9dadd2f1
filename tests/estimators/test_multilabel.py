"""Tests of FineTunedClassifier on multi-label y (a 0/1 indicator matrix, scikit-learn's convention)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import FineTunedClassifier
from sktransfer.images import as_image_set
from sktransfer.nn import encode_batches
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")



@pytest.fixture(scope="module")
def labels(digits):
    """Three labels per real digit: 'five or more', 'even', 'a loop' (0, 6, 8, 9); several may hold."""
    X, y = digits
    Y = np.column_stack([y >= 5, y % 2 == 0, np.isin(y, [0, 6, 8, 9])]).astype(int)
    return X[:200], Y[:200], X[200:320], Y[200:320]


def test_outputs_follow_sklearns_multilabel_format(labels):
    X, Y, Xt, _ = labels
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 1}).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred, proba, scores = clf.predict(Xt), clf.predict_proba(Xt), clf.decision_function(Xt)
    assert pred.shape == proba.shape == scores.shape == (len(Xt), 3)
    assert set(np.unique(pred)) <= {0, 1}
    assert np.all((proba >= 0) & (proba <= 1))
    assert not np.allclose(proba.sum(axis=1), 1.0)  # one probability per label, not a distribution
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    np.testing.assert_array_equal(pred, (scores > 0).astype(int))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), proba, rtol=1e-6)
    assert clf.score(Xt, pred) == 1.0  # subset accuracy


def test_representations_of_y_agree(labels):
    """An indicator array, a list of lists and a boolean array are one and the same y."""
    X, Y, Xt, _ = labels
    preds = [FineTunedClassifier(**{**FAST, "trainable_blocks": 1}).fit(X, y).predict_proba(Xt)
             for y in (Y, Y.tolist(), Y.astype(bool))]
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-6)
    np.testing.assert_allclose(preds[0], preds[2], rtol=1e-6)


def test_probe_only_is_one_logistic_regression_per_label(labels):
    X, Y, Xt, _ = labels
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0}).fit(X, Y)
    assert clf.n_steps_ == 0 and clf.history_[-1, "train_acc"] > 0
    device = torch.device("cpu")
    feats = encode_batches(clf.module_.encoder, as_image_set(X, input_shape=(8, 8)), batch_size=16, device=device)
    feats_t = encode_batches(clf.module_.encoder, as_image_set(Xt, input_shape=(8, 8)), batch_size=16,
                             device=device)
    ovr = make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(max_iter=1000))).fit(feats, Y)
    np.testing.assert_allclose(clf.predict_proba(Xt), ovr.predict_proba(feats_t), atol=1e-3)


def test_fine_tuning_learns_every_label(labels):
    X, Y, Xt, Yt = labels
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": "all", "max_epochs": 8}).fit(X, Y)
    per_label = (clf.predict(Xt) == Yt).mean(axis=0)
    assert np.all(per_label > 0.75), per_label
    assert clf.history_[-1, "train_loss"] < clf.history_[0, "train_loss"]


def test_constant_label_stays_constant(labels):
    X, Y, Xt, _ = labels
    Y = np.column_stack([Y[:, :2], np.ones(len(Y), dtype=int)])
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0}).fit(X, Y)
    assert np.all(clf.predict(Xt)[:, 2] == 1)


def test_multilabel_scorers_in_cross_validation_and_search(labels):
    X, Y, _, _ = labels
    scores = cross_val_score(FineTunedClassifier(**{**FAST, "trainable_blocks": 0}), X, Y, cv=2,
                             scoring="f1_macro")
    assert np.all((scores > 0) & (scores <= 1))
    search = GridSearchCV(FineTunedClassifier(**{**FAST, "trainable_blocks": 0}), {"probe_C": [0.1, 1.0]}, cv=2,
                          scoring="f1_weighted").fit(X, Y)
    assert search.best_estimator_.predict(X[:3]).shape == (3, 3)


def test_validation_split_label_smoothing_and_pickle(labels):
    X, Y, Xt, _ = labels
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "max_epochs": 2, "validation_fraction": 0.2,
                                 "early_stopping": 2, "label_smoothing": 0.2}).fit(X, Y)
    assert np.isfinite(clf.history_[-1, "valid_acc"]) and np.isfinite(clf.history_[-1, "valid_loss"])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(Xt), clf.predict_proba(Xt), rtol=1e-6)
    assert not hasattr(clone(clf), "classes_")


def test_multilabel_errors(labels):
    X, Y, _, _ = labels
    with pytest.raises(ValueError, match="class_weight.*not supported with multi-label"):
        FineTunedClassifier(**{**FAST, "class_weight": "balanced"}).fit(X, Y)
    with pytest.raises(ValueError, match="not a 0/1 indicator matrix.*FineTunedRegressor"):
        FineTunedClassifier(**FAST).fit(X, Y * 2.5)
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0, "warm_start": True}).fit(X, Y)
    with pytest.raises(ValueError, match="warm_start=True needs y with the classes"):
        clf.fit(X, Y[:, :2])
    with pytest.raises(ValueError, match="warm_start=True needs y with the classes"):
        clf.fit(X, Y[:, 0] + 5 * Y[:, 1])  # single-label y after a multi-label fit
