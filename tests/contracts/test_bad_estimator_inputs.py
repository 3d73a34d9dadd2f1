"""Bad parameters and targets for the estimators: each a clear error that names the problem and the fix.

Every case checks the exception type and message, that X and y are unchanged,
and that a fitted estimator whose refit failed still predicts exactly as before.
The input-layer cases (X in all its forms, files, the CLI) are in test_bad_inputs.py.
"""

import copy
from dataclasses import dataclass, field

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

import tiny
from sktransfer import FineTunedClassifier, FineTunedRegressor, PretrainedFeatureExtractor

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {**tiny.FAST, "trainable_blocks": 1}
EXTRACTOR = dict(backbone="timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0, random_state=0,
                 input_shape=(8, 8))


@dataclass
class Case:
    """A bad fit: parameters to set and/or targets to pass, and what the error must say."""

    id: str
    estimator: str  # "classifier", "regressor" or "extractor"
    exc: type
    match: str  # a regex naming the problem and the fix
    params: dict = field(default_factory=dict)
    y: object = "default"


MIXED = np.array([1, "a"] * 30, dtype=object)
CASES = [
    # devices the machine lacks or sktransfer does not run on
    Case("device-meta", "classifier", ValueError, r"device='meta' is not supported.*device='cpu'", {"device": "meta"}),
    Case("device-mps", "classifier", ValueError, r"MPS is not available.*device='cpu'", {"device": "mps"}),
    Case("device-cuda", "classifier", ValueError, r"CUDA is not available.*device='cpu'", {"device": "cuda"}),
    Case("device-cuda3", "regressor", ValueError, r"CUDA is not available.*device='cpu'", {"device": "cuda:3"}),
    Case("device-xpu", "regressor", ValueError, r"'xpu' is not supported.*'cpu'", {"device": "xpu"}),
    Case("device-hpu", "extractor", ValueError, r"'hpu' is not supported.*'cpu'", {"device": "hpu"}),
    Case("device-typo", "extractor", ValueError, r"'gpu' is not a device; use 'auto', 'cpu'", {"device": "gpu"}),
    Case("device-meta-extractor", "extractor", ValueError, r"'meta' is not supported", {"device": "meta"}),
    # callbacks that are not skorch callbacks
    Case("callback-object", "classifier", TypeError, r"callbacks\[0\].*not a skorch callback.*Callback",
         {"callbacks": [object()]}),
    Case("callback-pair-int", "regressor", TypeError, r"callbacks\[0\].*not a skorch callback.*\(name, callback\)",
         {"callbacks": [("mine", 3)]}),
    Case("callback-string", "classifier", TypeError, r"callbacks\[0\] is 'print'.*skorch\.callbacks\.Callback",
         {"callbacks": ["print"]}),
    Case("callback-second", "classifier", TypeError, r"callbacks\[1\]", {"callbacks": [None, None][:0] + [
        __import__("skorch.callbacks", fromlist=["PrintLog"]).PrintLog(), lambda net: None]}),
    # nested skorch parameters
    Case("smoothing-high", "classifier", ValueError, r"label_smoothing=1\.5 must be a number in \[0, 1\]",
         {"criterion__label_smoothing": 1.5}),
    Case("smoothing-negative", "classifier", ValueError, r"label_smoothing=-0\.1 must be.*\[0, 1\]",
         {"criterion__label_smoothing": -0.1}),
    Case("unknown-keyword", "classifier", TypeError, r"unexpected parameter 'learning_rate'.*optimizer__",
         {"learning_rate": 0.1}),
    Case("typo-nested", "regressor", TypeError, r"unexpected parameter 'optimiser__betas'.*optimizer__",
         {"optimiser__betas": (0.9, 0.99)}),
    # image sizes a backbone cannot use
    Case("size-1", "classifier", ValueError, r"image_size=1 is outside 16\.\.2048.*image_size=None", {"image_size": 1}),
    Case("size-huge", "regressor", ValueError, r"image_size=1000000 is outside 16\.\.2048", {"image_size": 10**6}),
    Case("size-8", "classifier", ValueError, r"outside 16\.\.2048 px", {"image_size": 8}),
    Case("size-zero-pair", "regressor", ValueError, r"outside 16\.\.2048", {"image_size": (0, 32)}),
    Case("size-triple", "classifier", ValueError, r"an \(H, W\) pair", {"image_size": (32, 32, 3)}),
    Case("size-extractor", "extractor", ValueError, r"image_size=1 is outside 16\.\.2048", {"image_size": 1}),
    Case("size-float-pair", "extractor", ValueError, r"an \(H, W\) pair", {"image_size": (32.5, 32)}),
    # blocks and heads
    Case("blocks-range", "classifier", ValueError, r"trainable_blocks=99 is out of range.*use 0\.\.\d+ or 'all'",
         {"trainable_blocks": 99}),
    Case("layer-range", "classifier", ValueError, r"layer=99 is out of range for timm/test_resnet",
         {"layer": 99}),
    Case("layer-name", "regressor", ValueError, r"layer='nope' is not a block of timm/test_resnet; blocks are",
         {"layer": "nope"}),
    Case("layer-empty", "classifier", ValueError, r"layer is an empty list; pass None", {"layer": []}),
    Case("layer-range-extractor", "extractor", ValueError, r"layer=-99 is out of range for timm/test_resnet",
         {"layer": -99}),
    Case("hidden-zero", "classifier", ValueError, r"hidden_units must be a tuple of positive ints, e\.g\. \(256,\)",
         {"hidden_units": (0,)}),
    Case("hidden-float", "regressor", ValueError, r"hidden_units must be a tuple of positive ints",
         {"hidden_units": (12.5,)}),
    Case("patience-no-split", "classifier", ValueError, r"early_stopping=3 needs a validation split.*"
         r"validation_fraction", {"early_stopping": 3, "validation_fraction": None}),
    Case("split-too-small", "classifier", ValueError, r"validation_fraction=0\.01 cannot make a stratified split.*"
         r"larger fraction", {"validation_fraction": 0.01, "early_stopping": None}),
    # the parameters scikit-learn validates, with its message (names the parameter and the options)
    Case("loss-name", "regressor", InvalidParameterError, r"'loss' parameter.*'huber'", {"loss": "l1"}),
    Case("probe-alpha", "regressor", InvalidParameterError, r"'probe_alpha' parameter.*'auto'", {"probe_alpha": 0}),
    Case("on-interrupt", "classifier", InvalidParameterError, r"'on_interrupt' parameter.*'keep'",
         {"on_interrupt": "ignore"}),
    Case("file-key", "extractor", InvalidParameterError, r"'file_key' parameter.*'content'", {"file_key": "hash"}),
    Case("schedule", "classifier", InvalidParameterError, r"'schedule' parameter.*'lp-ft'", {"schedule": "lpft"}),
    Case("memory-unwritable", "extractor", ValueError, r"memory='/proc/no-cache' is not a writable folder.*"
         r"memory=None", {"memory": "/proc/no-cache"}),
    # targets
    Case("y-mixed-object", "classifier", ValueError, r"y mixes label types \(number, str\); use one type", y=MIXED),
    Case("y-mixed-list", "classifier", ValueError, r"y mixes label types \(number, str\)", y=list(MIXED)),
    Case("y-tuples", "classifier", ValueError, r"not a 0/1 indicator matrix.*FineTunedRegressor",
         y=[(v, 2 * v + 3) for v in range(60)]),
    Case("y-none", "classifier", ValueError, r"requires y to be passed", y=None),
    Case("y-short", "classifier", ValueError, r"60 images but y has 59 labels; pass one label per image",
         y=np.arange(59) % 3),
    Case("y-one-class", "classifier", ValueError, r"at least 2 classes.*only one class", y=np.zeros(60)),
    Case("y-continuous", "classifier", ValueError, r"Unknown label type: continuous.*regression target",
         y=np.linspace(0, 1, 60)),
    Case("y-multilabel-weights", "classifier", ValueError, r"class_weight='balanced' is not supported with "
         r"multi-label y.*pos_weight", {"class_weight": "balanced"}, y=np.eye(3, dtype=int)[np.arange(60) % 3]),
    Case("y-strings-regressor", "regressor", ValueError, r"numeric targets; y holds 'a'.*For labels use FineTunedClassifier",
         y=np.array(["a", "b"] * 30)),
    Case("y-3d-regressor", "regressor", ValueError, r"1-D \(one target\) or 2-D", y=np.zeros((60, 2, 2))),
    Case("y-none-regressor", "regressor", ValueError, r"requires y to be passed", y=None),
    Case("y-nan-regressor", "regressor", ValueError, r"NaN", y=np.r_[np.nan, np.arange(59.0)]),
    Case("y-short-regressor", "regressor", ValueError, r"60 images but y has 10 targets; pass one target",
         y=np.arange(10.0)),
]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    X, Xt = X[:60], X[60:80]
    ests = {
        "classifier": FineTunedClassifier(**FAST).fit(X, y[:60]),
        "regressor": FineTunedRegressor(**FAST).fit(X, y[:60].astype(float)),
        "extractor": PretrainedFeatureExtractor(**EXTRACTOR).fit(X),
    }
    return X, y[:60], Xt, ests


def _outputs(est, Xt):
    return est.transform(Xt) if hasattr(est, "transform") else est.predict(Xt)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_fit_is_a_clear_error_and_keeps_the_fitted_model(case, fitted):
    X, y, Xt, ests = fitted
    est = copy.deepcopy(ests[case.estimator])
    before = _outputs(est, Xt)
    y_in = (y if case.estimator == "classifier" else y.astype(float)) if isinstance(case.y, str) else case.y
    X_copy, y_copy = X.copy(), copy.deepcopy(y_in)
    original = est.get_params()
    est.set_params(**case.params)
    with pytest.raises(case.exc, match=case.match):
        est.fit(X, y_in)
    np.testing.assert_array_equal(X, X_copy)  # the user's data is never modified
    if y_in is not None:
        np.testing.assert_array_equal(np.asarray(y_in), np.asarray(y_copy))
    for key in case.params:  # back to the parameters of the fit: the old model must be intact
        if key in original:
            est.set_params(**{key: original[key]})
        else:
            delattr(est, key)
    np.testing.assert_array_equal(_outputs(est, Xt), before)
