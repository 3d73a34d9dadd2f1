"""What the inspection tools need of an estimator: a fitted network estimator, or an error saying what to pass."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

__all__ = ["check_network_estimator"]

NETWORKS = "FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier"
#: A linear probe with explanations: what to fit instead of an extractor and a scikit-learn model.
PROBE_FIX = ("fit a FineTunedClassifier(backbone, trainable_blocks=0), which trains only a linear head on the "
             "frozen backbone (as a PretrainedFeatureExtractor followed by LogisticRegression does), and pass it")


def check_network_estimator(estimator, caller, what, attribute="module_"):
    """Raise unless ``estimator`` is a fitted network estimator; the error names what to pass instead.

    ``what`` is what the caller needs of the network (e.g. "a class score to
    explain"). A Pipeline, a search and an estimator without a network head
    (a PretrainedFeatureExtractor, a scikit-learn model) are TypeErrors that
    say which object to pass; an unfitted network estimator is scikit-learn's
    NotFittedError, as ``predict`` gives.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.inspection._checks import check_network_estimator
    >>> check_network_estimator(LogisticRegression(), "explain", "a class score to explain")
    Traceback (most recent call last):
    ...
    TypeError: explain needs a fitted FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier, ...
    """
    name = type(estimator).__name__
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        final = steps[-1][1]
        fix = (f"pass its final step and the images that step receives: {caller}(pipe[-1], "
               "pipe[:-1].transform(X), ...)" if _is_network(final) else
               f"its final step, a {type(final).__name__}, has no network to look into: {PROBE_FIX}")
        raise TypeError(f"{caller} needs a fitted {NETWORKS}, not a {name}: {what} comes from the network's "
                        f"own gradients or outputs, which the other steps hide. For this pipeline, {fix}.")
    if hasattr(estimator, "best_estimator_") or hasattr(estimator, "estimator") and hasattr(estimator, "cv"):
        raise TypeError(f"{caller} needs a fitted {NETWORKS}, not a {name}: pass the fitted search's "
                        "best_estimator_ (search.best_estimator_).")
    if not _is_network(estimator):
        fix = ("FeatureSpaceDisplay.from_estimator shows an extractor's features; to see what the backbone looks "
               f"at, {PROBE_FIX}" if hasattr(estimator, "transform") else PROBE_FIX[0].upper() + PROBE_FIX[1:])
        raise TypeError(f"{caller} needs a fitted {NETWORKS}, which has {what}; a {name} has none. {fix}.")
    check_is_fitted(estimator, attribute)


def _is_network(estimator):
    """The network estimators, and only they, can explain themselves (BackboneNetworkEstimator.explain)."""
    return callable(getattr(type(estimator), "explain", None))
