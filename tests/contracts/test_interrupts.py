"""Ctrl-C during training: it propagates and the estimator keeps its previous state, unless told to keep."""

import signal

import numpy as np
import pytest
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV

import tiny
from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor

pytestmark = pytest.mark.usefixtures("one_thread", "python_sigint")


@pytest.fixture()
def python_sigint():
    """Python's own SIGINT handler during each test, whatever an earlier test left installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)

FAST = {**tiny.FAST, "max_epochs": 3, "trainable_blocks": 1}


class CtrlC(Callback):
    """Presses Ctrl-C (raises SIGINT in this thread) in the middle of epoch ``epoch`` (1-based).

    ``signal.raise_signal`` delivers the signal to the calling thread, the main
    one, so its Python handler runs as soon as the call returns: no timing,
    unlike ``os.kill``, which may land on another thread of the process (torch's)
    and leave the handler to whenever the main thread next checks for signals.
    """

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1]["batches"]) >= 2:
            signal.raise_signal(signal.SIGINT)


class StopTraining(Callback):
    """skorch's own way to end training early (EarlyStopping does the same): raise KeyboardInterrupt."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:80], y[:80], X[80:120]


class DomainAdaptive(DomainAdaptiveClassifier):
    """The domain-adaptive classifier on the same data: its last 30 images are an unlabelled target."""

    def fit(self, X, y, sample_domain=None):
        return super().fit(X, np.where(np.arange(len(y)) < len(y) - 30, y, -1), sample_domain)


#: Every network estimator: the base's interrupt semantics hold for each.
ESTIMATORS = [FineTunedClassifier, FineTunedRegressor, DomainAdaptive]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_interrupt_propagates_and_leaves_an_unfitted_estimator_unfitted(Estimator, data):
    X, y, _ = data
    est = Estimator(**FAST, callbacks=[CtrlC()])
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2"):
        est.fit(X, y)
    assert not hasattr(est, "module_") and not hasattr(est, "history_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_interrupted_refit_keeps_the_previous_model(Estimator, data):
    X, y, Xt = data
    est = Estimator(**FAST).fit(X, y)
    before, history = est.predict(Xt), est.history_
    est.set_params(callbacks=[CtrlC()], lr=0.05)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict(Xt), before)
    assert est.history_ is history and not est.interrupted_


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_keep_returns_the_partial_model_with_a_warning_and_a_flag(Estimator, data):
    X, y, Xt = data
    with pytest.warns(UserWarning, match="interrupted in epoch 2 of 3.*interrupted_ is True"):
        est = Estimator(**FAST, callbacks=[CtrlC()], on_interrupt="keep").fit(X, y)
    assert est.interrupted_ and len(est.history_) == 2
    assert est.predict(Xt).shape[0] == len(Xt)
    assert not Estimator(**FAST).fit(X, y).interrupted_


def test_interrupt_stops_a_grid_search_instead_of_scoring_a_half_trained_candidate(data):
    X, y, _ = data
    search = GridSearchCV(FineTunedClassifier(**FAST), {"callbacks": [None, [CtrlC()]]}, cv=2, error_score="raise")
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert not hasattr(search, "cv_results_")
    # error_score=np.nan catches Exceptions only: the interrupt still stops the search.
    search.set_params(error_score=np.nan)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)


def test_a_callback_that_stops_training_is_not_an_interrupt(data):
    """Early stopping raises KeyboardInterrupt inside skorch: training ends normally, nothing is raised."""
    X, y, _ = data
    est = FineTunedClassifier(**FAST, callbacks=[StopTraining()]).fit(X, y)
    assert len(est.history_) == 2 and not est.interrupted_
    patient = FineTunedClassifier(**{**FAST, "max_epochs": 30, "validation_fraction": 0.25, "early_stopping": 1,
                                     "lr": 1.0}).fit(X, y)  # a rate this high stops improving at once
    assert len(patient.history_) < 30 and not patient.interrupted_
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_ctrl_c_stops_the_fit_under_a_handler_that_does_not_raise(data):
    """A library's own SIGINT handler (one that only records, as a notebook or cluster client may) runs,
    and the fit still stops and raises; the handler is put back afterwards."""
    X, y, _ = data
    seen = []

    def quiet(signum, frame):
        seen.append(signum)

    signal.signal(signal.SIGINT, quiet)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2"):
        FineTunedClassifier(**FAST, callbacks=[CtrlC()]).fit(X, y)
    assert seen == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is quiet
