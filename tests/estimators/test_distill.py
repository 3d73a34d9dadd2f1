"""DistilledClassifier: the teacher learns from the labelled images, the student from the teacher on all."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from sktransfer import DistilledClassifier, FineTunedRegressor
from sktransfer.estimators._distill import teacher_logits

# A pretrained student (Lite0 at 32 px): a random-init one learns the teacher's logits too slowly for a test.
STUDENT = dict(image_size=32, input_shape=(8, 8), max_epochs=10, min_steps=0, tta=0, augment=None, verbose=0,
               random_state=0)


class CountingTeacher(LogisticRegression):
    """A fast teacher on the flattened pixels, recording the rows each fit saw."""

    def fit(self, X, y):
        self.seen_ = len(X)
        return super().fit(X, y)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    y_fit = np.where(np.arange(300) < 100, y[:300], -1)
    model = DistilledClassifier(CountingTeacher(max_iter=500), FineTunedRegressor(**STUDENT))
    return model.fit(X[:300], y_fit), X[300:500], y[300:500]


def test_teacher_learns_from_labelled_rows_and_student_follows_it(fitted):
    model, X_test, y_test = fitted
    assert model.teacher_.seen_ == 100  # the 200 unlabelled rows never reach the teacher
    assert model.classes_.tolist() == list(range(10))
    agreement = np.mean(model.predict(X_test) == model.teacher_.predict(X_test))
    assert agreement > 0.8, agreement  # chance is 0.1
    assert model.distillation_r2_ > 0.9
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (model.classes_[proba.argmax(1)] == model.predict(X_test)).all()
    assert model.score(X_test, y_test) > 0.5


def test_a_frozen_teacher_is_used_as_it_is(digits):
    X, y = digits
    teacher = CountingTeacher(max_iter=500).fit(X[:50], y[:50])
    model = DistilledClassifier(FrozenEstimator(teacher), FineTunedRegressor(**{**STUDENT, "max_epochs": 2}))
    model.fit(X[:120], y[:120])
    assert model.teacher_.estimator.seen_ == 50  # not refitted
    assert model.student_.n_outputs_ == 10


def test_pickle_clone_and_nested_params(fitted):
    model, X_test, _ = fitted
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(X_test), model.predict_proba(X_test), atol=1e-6)
    fresh = clone(model).set_params(student__image_size=24, temperature=2.0)
    assert fresh.student.image_size == 24 and not hasattr(fresh, "student_")
    assert model.student.image_size == 32  # clone never touches the original


def test_temperature_softens_probabilities(fitted):
    model, X_test, _ = fitted
    sharp = model.predict_proba(X_test).max(1).mean()
    model.set_params(temperature=4.0)
    soft = model.predict_proba(X_test).max(1).mean()
    model.set_params(temperature=1.0)
    assert soft < sharp


def test_bad_input_is_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="every label is -1"):
        DistilledClassifier(LogisticRegression(), FineTunedRegressor(**STUDENT)).fit(X[:20], np.full(20, -1))
    with pytest.raises(ValueError, match="1-D y"):
        DistilledClassifier(LogisticRegression(), FineTunedRegressor(**STUDENT)).fit(X[:20], np.zeros((20, 2)))
    with pytest.raises(InvalidParameterError, match="student"):
        DistilledClassifier(LogisticRegression(), LogisticRegression()).fit(X[:20], y[:20])
    with pytest.raises(InvalidParameterError, match="temperature"):
        DistilledClassifier(LogisticRegression(), temperature=0).fit(X[:20], y[:20])


def test_teacher_logits_are_centred_and_finite():
    logits = teacher_logits(np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    assert np.isfinite(logits).all() and logits.dtype == np.float32
    np.testing.assert_allclose(logits.sum(axis=1), 0, atol=1e-5)
    assert logits[0].argmax() == 0 and logits[1].argmax() == 2
