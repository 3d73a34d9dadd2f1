"""skada 0.6's splitters and scorers against the bare DomainAdaptiveClassifier, and sktransfer's scorers on domains.

skada is an optional test dependency (the ``dev`` extra); importing it turns on scikit-learn's metadata routing.
"""

import copy
import pickle

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline

from sktransfer import DomainAdaptiveClassifier
from sktransfer.metrics import labeled_accuracy_scorer, prediction_entropy_scorer

from tiny import FAST

# Importing skada turns scikit-learn's metadata routing on for the whole process (at collection, so for
# every test module): the module's own code runs with it (skada's scorers need it when built), its tests
# under the fixture below, and the last line of the module puts the setting back as it found it.
_ROUTING = sklearn.get_config()["enable_metadata_routing"]
skada = pytest.importorskip("skada")
from skada.metrics import (DeepEmbeddedValidation, ImportanceWeightedScorer,  # noqa: E402
                           PredictionEntropyScorer, SoftNeighborhoodDensity)
from skada.model_selection import DomainShuffleSplit, LeaveOneDomainOut, SourceTargetShuffleSplit  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread", "metadata_routing")  # one_thread: see tests/conftest.py


@pytest.fixture(scope="module")
def metadata_routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def domains():
    """120 digits (source, domain 1) and 120 others inverted (target, domain -2); every label kept."""
    X, y = load_digits(return_X_y=True)
    X = X[:240] / 16.0
    X[120:] = 1.0 - X[120:]
    return X, y[:240], np.r_[np.ones(120, int), np.full(120, -2)]


def _model(**params):
    return DomainAdaptiveClassifier(**{**FAST, **params}).set_fit_request(sample_domain=True)


@pytest.fixture(scope="module")
def fitted(domains):
    X, y, sd = domains
    return _model().set_score_request(sample_weight=True).fit(X, y, sample_domain=sd)


# ---------------------------------------------------------------- the estimator takes skada's keywords


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "decision_function"])
def test_predictions_take_sample_domain_and_are_one_row_per_image(method, fitted, domains):
    X, _, sd = domains
    plain = getattr(fitted, method)(X)
    np.testing.assert_array_equal(getattr(fitted, method)(X, sample_domain=sd), plain)
    np.testing.assert_array_equal(getattr(fitted, method)(X, sample_domain=sd, allow_source=True), plain)
    with pytest.raises(ValueError, match="sample_domain has shape"):
        getattr(fitted, method)(X, sample_domain=sd[:-1])


def test_score_with_sample_domain_scores_the_target_only(fitted, domains):
    X, y, sd = domains
    target = sd < 0
    assert fitted.score(X, y, sample_domain=sd) == fitted.score(X[target], y[target])
    assert fitted.score(X, y, sample_domain=sd, allow_source=True) == fitted.score(X, y)
    assert fitted.score(X[target], y[target]) != fitted.score(X, y)  # so the two lines above can tell
    with pytest.raises(ValueError, match="no target images"):
        fitted.score(X[~target], y[~target], sample_domain=sd[~target])


def test_predict_request_routes_sample_domain_through_a_pipeline(fitted, domains):
    X, _, sd = domains
    pipe = Pipeline([("clf", fitted)])
    with pytest.raises(ValueError, match="sample_domain"):  # not requested: scikit-learn refuses it
        pipe.predict(X, sample_domain=sd)
    fitted.set_predict_request(sample_domain=True)
    try:
        np.testing.assert_array_equal(pipe.predict(X, sample_domain=sd), fitted.predict(X))
    finally:
        fitted.set_predict_request(sample_domain=None)


def test_predict_features_are_the_heads_inputs_and_layer_name_survives_pickling(fitted, domains):
    X, _, _ = domains
    features = fitted.predict_features(X[:5])
    assert features.shape == (5, fitted.module_.head[-1].in_features) and features.dtype == np.float32
    assert fitted.module_.layer_name == "encoder"
    assert pickle.loads(pickle.dumps(fitted)).module_.layer_name == "encoder"


# ---------------------------------------------------------------- skada's scorers on the bare estimator


@pytest.mark.parametrize("scorer", [PredictionEntropyScorer(), SoftNeighborhoodDensity(), ImportanceWeightedScorer(),
                                    DeepEmbeddedValidation(random_state=0)], ids=type)
def test_skada_scorers_run_on_the_bare_estimator(scorer, fitted, domains):
    X, y, sd = domains
    score = scorer(fitted, X, y, sample_domain=sd)
    assert np.isfinite(score)


def test_importance_weighted_scorer_names_the_score_request_it_needs(domains):
    X, y, sd = domains
    model = _model().fit(X, y, sample_domain=sd)  # sample_weight not requested for score
    with pytest.raises(ValueError, match="sample_weight"):
        ImportanceWeightedScorer()(model, X, y, sample_domain=sd)


# ---------------------------------------------------------------- sktransfer's scorers: the target only


@pytest.fixture(scope="module")
def logistic(domains):
    X, y, _ = domains
    return LogisticRegression(max_iter=500).fit(X, y)


def test_prediction_entropy_scores_the_target_in_both_conventions(logistic, domains):
    X, y, sd = domains
    target = sd < 0
    alone = prediction_entropy_scorer(logistic, X[target])
    assert prediction_entropy_scorer(logistic, X, y, sample_domain=sd) == alone  # skada's: labels kept
    assert prediction_entropy_scorer(logistic, X, np.where(target, -1, y)) == alone  # scikit-learn's: -1
    assert prediction_entropy_scorer(logistic, X, y) != alone  # without either, every image


def test_labeled_accuracy_scores_the_labelled_target_in_skadas_convention(logistic, domains):
    X, y, sd = domains
    target = sd < 0
    y_few = np.where(target & (np.arange(len(y)) % 2 == 0), -1, y)  # half the target labelled
    scored = target & (y_few != -1)
    assert labeled_accuracy_scorer(logistic, X, y_few, sample_domain=sd) == logistic.score(X[scored], y[scored])
    # scikit-learn's convention has no domains: the labelled images (here all the source) are scored
    y_sk = np.where(target, -1, y)
    assert labeled_accuracy_scorer(logistic, X, y_sk) == logistic.score(X[~target], y[~target])
    with pytest.raises(ValueError, match="of the target images"):
        labeled_accuracy_scorer(logistic, X, y_sk, sample_domain=sd)


def test_sktransfer_scorers_receive_the_test_folds_domains_by_routing(logistic, domains):
    X, y, sd = domains
    folds = [(np.r_[0:60, 120:180], np.r_[60:120, 180:240])]
    scoring = {"entropy": prediction_entropy_scorer, "target": labeled_accuracy_scorer}
    result = cross_validate(LogisticRegression(max_iter=500), X, y, cv=folds, scoring=scoring,
                            params={"sample_domain": sd})
    test, target = folds[0][1], folds[0][1][sd[folds[0][1]] < 0]
    model = LogisticRegression(max_iter=500).fit(X[folds[0][0]], y[folds[0][0]])
    assert result["test_entropy"][0] == pytest.approx(prediction_entropy_scorer(model, X[target]))
    assert result["test_target"][0] == pytest.approx(model.score(X[target], y[target]))
    assert result["test_target"][0] != pytest.approx(model.score(X[test], y[test]))


def test_sktransfer_scorers_decline_sample_domain_when_asked(logistic, domains):
    X, y, sd = domains
    scorer = copy.deepcopy(prediction_entropy_scorer)  # a copy: the module's scorer stays as is
    scorer.set_score_request(sample_domain=False)
    assert prediction_entropy_scorer.get_metadata_routing().score.requests == {"sample_domain": True}
    assert scorer.get_metadata_routing().score.requests == {"sample_domain": False}
    unpickled = pickle.loads(pickle.dumps(scorer))  # n_jobs > 1 sends scorers to workers
    assert unpickled(logistic, X, y, sample_domain=sd) == prediction_entropy_scorer(logistic, X, y, sample_domain=sd)


# ---------------------------------------------------------------- skada's splitters in cross_validate / GridSearchCV


@pytest.mark.parametrize("cv", [SourceTargetShuffleSplit(n_splits=2, random_state=0),
                                DomainShuffleSplit(n_splits=2, random_state=0),
                                LeaveOneDomainOut(max_n_splits=2, random_state=0)], ids=type)
def test_skada_splitters_and_scorers_in_cross_validate(cv, domains):
    X, y, sd = domains
    if isinstance(cv, LeaveOneDomainOut):  # each domain as source and as target, skada's packed form
        X, y, sd = np.concatenate([X, X]), np.concatenate([y, y]), np.r_[sd, -sd]
    scoring = {"entropy": prediction_entropy_scorer, "skada_entropy": PredictionEntropyScorer(),
               "snd": SoftNeighborhoodDensity()}
    result = cross_validate(_model(), X, y, cv=cv, scoring=scoring, params={"sample_domain": sd})
    assert len(result["test_entropy"]) == 2
    assert all(np.isfinite(result[f"test_{name}"]).all() for name in scoring)


def test_the_docs_recipe_selects_on_target_images(domains):
    X, y, sd = domains
    search = GridSearchCV(_model(), {"adaptation_weight": [0.1, 1.0]}, scoring=prediction_entropy_scorer,
                          cv=SourceTargetShuffleSplit(n_splits=1, random_state=0), refit=False)
    search.fit(X, y, sample_domain=sd)
    (train, test), = SourceTargetShuffleSplit(n_splits=1, random_state=0).split(X, y, sd)
    target = test[sd[test] < 0]
    for weight, score in zip([0.1, 1.0], search.cv_results_["mean_test_score"]):
        model = _model(adaptation_weight=weight).fit(X[train], y[train], sample_domain=sd[train])
        assert score == pytest.approx(prediction_entropy_scorer(model, X[target]))


sklearn.set_config(enable_metadata_routing=_ROUTING)  # see the imports at the top
