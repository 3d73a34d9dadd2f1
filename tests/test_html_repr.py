"""What a scikit-learn user sees in a notebook: every public estimator's HTML view, unfitted and fitted,
and the transformers' pandas output with their feature names, alone and in a Pipeline.

The estimators are found in ``sktransfer.__all__``, so one added later is checked too; each needs
an entry in :data:`QUICK` (parameters that fit in about a second) and, for a transformer, is
checked for ``set_output`` as well.
"""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sktransfer
from tiny import FAST

pd = pytest.importorskip("pandas")

#: Quick parameters of each public estimator (by class name): a tiny random-init network where there is one.
QUICK = {
    "PretrainedFeatureExtractor": dict(backbone="timm/test_resnet", weights=None, image_size=16, input_shape=(8, 8),
                                       verbose=0),
    "HOGTransformer": dict(image_size=16, pixels_per_cell=4, input_shape=(8, 8)),
    "LBPTransformer": dict(method="nri_uniform", grid=2, input_shape=(8, 8)),
    "PixelTransformer": dict(input_shape=(8, 8)),
    "SelfSupervisedPretrainer": dict(backbone="timm/test_resnet", weights=None, image_size=16, max_epochs=1,
                                     batch_size=8, input_shape=(8, 8), verbose=0),
    "FineTunedClassifier": FAST,
    "FineTunedRegressor": FAST,
    "DomainAdaptiveClassifier": FAST,
    # a meta-estimator: its teacher and student, tiny too (a function, so each test gets its own)
    "DistilledClassifier": lambda: dict(teacher=sktransfer.FineTunedClassifier(**FAST),
                                        student=sktransfer.FineTunedRegressor(**FAST)),
}

ESTIMATORS = sorted(name for name in sktransfer.__all__
                    if isinstance(getattr(sktransfer, name), type) and issubclass(getattr(sktransfer, name), BaseEstimator))
TRANSFORMERS = [name for name in ESTIMATORS if issubclass(getattr(sktransfer, name), TransformerMixin)]


def quick_params(name):
    """QUICK's entry for the class, or for the nearest base class that has one (a subclass of
    FineTunedClassifier fits with FAST too); None when there is none."""
    for cls in getattr(sktransfer, name).__mro__:
        if cls.__name__ in QUICK:
            entry = QUICK[cls.__name__]
            return entry() if callable(entry) else entry
    return None


def test_the_public_estimators_are_found():
    assert set(ESTIMATORS) >= {"PretrainedFeatureExtractor", "HOGTransformer", "LBPTransformer", "PixelTransformer",
                               "FineTunedClassifier", "FineTunedRegressor", "DomainAdaptiveClassifier"}
    assert {"PretrainedFeatureExtractor", "HOGTransformer", "LBPTransformer", "PixelTransformer"} <= set(TRANSFORMERS)
    missing = sorted(name for name in ESTIMATORS if quick_params(name) is None)
    assert not missing, f"add quick parameters for {missing} to QUICK in tests/test_html_repr.py"


def make(name):
    params = quick_params(name)
    assert params is not None, f"add quick parameters for {name} to QUICK in tests/test_html_repr.py"
    return getattr(sktransfer, name)(**params)


def fit(estimator, digits):
    """The estimator fitted on 40 digits (a domain-adaptive one: 20 of them an unlabelled target)."""
    X, y = digits[0][:40], digits[1][:40]
    if isinstance(estimator, sktransfer.DomainAdaptiveClassifier):
        return estimator.fit(X, np.where(np.arange(40) < 20, y, -1))
    if isinstance(estimator, RegressorMixin):
        return estimator.fit(X, y.astype(float))
    if isinstance(estimator, ClassifierMixin):
        return estimator.fit(X, y)
    return estimator.fit(X)


def shown_params(estimator):
    """The parameters a user set, as the HTML view should show them: (name, a piece of its value)."""
    changed = {k: v for k, v in estimator.get_params(deep=False).items()
               if k in quick_params(type(estimator).__name__) and isinstance(v, str)}
    return changed


@pytest.mark.parametrize("name", ESTIMATORS)
def test_html_repr_unfitted_and_fitted(name, digits):
    estimator = make(name)
    html = estimator._repr_html_()
    assert name in html and "Not fitted" in html and "sk-estimator fitted" not in html
    assert "text/html" in estimator._repr_mimebundle_()
    for param, value in shown_params(estimator).items():
        assert f'<td class="param">{param}' in html and value in html, param

    fitted_html = fit(estimator, digits)._repr_html_()
    assert name in fitted_html and "sk-estimator fitted" in fitted_html and "Not fitted" not in fitted_html
    # the view of a fitted estimator is not the unfitted one's: fitted status (and sklearn's attribute table)
    assert fitted_html != html


@pytest.mark.parametrize("name", ESTIMATORS)
def test_html_repr_inside_a_pipeline(name, digits):
    estimator = make(name)
    pipeline = make_pipeline(StandardScaler(), estimator) if not isinstance(estimator, TransformerMixin) else \
        make_pipeline(estimator, StandardScaler())
    html = pipeline._repr_html_()
    assert "Pipeline" in html and name in html and "StandardScaler" in html


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_set_output_pandas_names_the_columns(name, digits):
    X = digits[0][:12]
    transformer = make(name).set_output(transform="pandas")
    frame = transformer.fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    names = transformer.get_feature_names_out()
    assert frame.shape == (12, len(names)) and list(frame.columns) == list(names)
    assert len(set(names)) == len(names)
    again = transformer.transform(X)
    assert isinstance(again, pd.DataFrame) and list(again.columns) == list(names)
    array = transformer.set_output(transform="default").transform(X)  # the same fitted transformer
    assert isinstance(array, np.ndarray)
    np.testing.assert_allclose(again.to_numpy(), array, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_set_output_pandas_in_a_pipeline(name, digits):
    X, y = digits[0][:60], digits[1][:60]
    transformer = make(name)
    features = make_pipeline(transformer, StandardScaler()).set_output(transform="pandas")
    frame = features.fit_transform(X)
    names = list(transformer.get_feature_names_out())
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == names
    assert list(features.get_feature_names_out()) == names
    # the classifier after it sees the names
    model = make_pipeline(clone(transformer), LogisticRegression(max_iter=200)).set_output(transform="pandas")
    model.fit(X, y)
    assert list(model[-1].feature_names_in_) == names
    assert model.predict(X[:5]).shape == (5,)
