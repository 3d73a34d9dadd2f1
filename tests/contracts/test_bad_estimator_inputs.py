"""Bad parameters and targets for the estimators: each a clear error that names the problem and the fix.

Every case checks the exception type and message, that X and y are unchanged,
and that a fitted estimator whose refit failed still predicts exactly as before.
The input-layer cases (X in all its forms, files, the CLI) are in test_bad_inputs.py.
"""

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Checkpoint, EarlyStopping
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
    fit_kwargs: dict = field(default_factory=dict)


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
    # missing, ragged and odd targets (issue 21)
    Case("y-nan-classifier", "classifier", ValueError, r"1 missing label \(NaN, None or pd\.NA\), at rows \[3\]: "
         r"drop those images, or mark an image without a label by -1", y=np.r_[0.0, 1, 2, np.nan, np.arange(56) % 3]),
    Case("y-pd-na", "classifier", ValueError, r"2 missing labels.*rows \[0, 5\]",
         y=pd.array([None] + [1, 2, 0, 1] + [None] + list(np.arange(54) % 3), dtype="Int64")),
    Case("y-none-strings", "classifier", ValueError, r"missing label.*rows \[1\]",
         y=np.array(["a", None] + ["a", "b", "c"] * 19 + ["b"], dtype=object)),
    Case("y-ragged", "classifier", ValueError, r"list of labels per image.*MultiLabelBinarizer",
         y=[[0, 1], [2]] * 30),
    Case("y-inf-regressor", "regressor", ValueError, r"infinite values at rows \[2\]: drop those images or impute",
         y=np.r_[0.0, 1.0, np.inf, np.arange(57.0)]),
    Case("y-complex-regressor", "regressor", ValueError, r"complex targets; pass real numbers",
         y=np.arange(60) + 1j),
    Case("y-none-regressor-object", "regressor", ValueError, r"missing target.*impute",
         y=np.array([None] + list(range(59)), dtype=object)),
    # class weights that name no class, or are not weights
    Case("class-weight-negative", "classifier", ValueError, r"class_weight\[0\] = -1\.0; a class weight must be a "
         r"finite number >= 0", {"class_weight": {0: -1.0}}),
    Case("class-weight-nan", "classifier", ValueError, r"class_weight\[1\] = nan", {"class_weight": {1: float("nan")}}),
    Case("class-weight-unknown", "classifier", ValueError, r"class_weight names 17, which is not a class of y; the "
         r"classes are \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]", {"class_weight": {17: 2.0}}),
    Case("class-weight-str-key", "classifier", ValueError, r"'0' is not 0: key the dict by the labels",
         {"class_weight": {"0": 2.0}}),
    Case("criterion-weight-length", "classifier", ValueError, r"criterion__weight has shape \(5,\); the loss needs one "
         r"weight per class of y: 10, in the order of classes_", {"criterion__weight": torch.ones(5)}),
    Case("criterion-weight-list", "classifier", TypeError, r"criterion__weight is a list; pass a float tensor",
         {"criterion__weight": [1.0] * 10}),
    Case("criterion-weight-negative", "classifier", ValueError, r"every weight must be a finite number >= 0",
         {"criterion__weight": torch.tensor([1.0, -1.0] * 5)}),
    # settings torch or skorch would reject deep inside the fit
    Case("optimizer-keyword", "classifier", TypeError, r"optimizer__momentum: AdamW takes no 'momentum'.*"
         r"optimizer=torch\.optim\.SGD", {"optimizer__momentum": 0.9}),
    Case("lbfgs", "classifier", ValueError, r"optimizer=LBFGS is not supported.*Use a first-order optimizer",
         {"optimizer": torch.optim.LBFGS, "weight_decay": 0.0, "lr_decay": 1.0}),
    Case("optimizer-refuses-value", "classifier", ValueError, r"optimizer=AdamW refused its settings \(Invalid "
         r"learning rate.*check lr, weight_decay and the optimizer__\* parameters", {"optimizer__lr": -1.0}),
    Case("optimizer-not-an-optimizer", "regressor", TypeError, r"optimizer=<class 'dict'> is not a torch optimizer "
         r"class; pass one such as torch\.optim\.AdamW", {"optimizer": dict}),
    Case("optimizer-lambda", "classifier", TypeError, r"is not a torch optimizer class",
         {"optimizer": lambda params, **kwargs: torch.optim.SGD(params, **kwargs)}),
    Case("criterion-reduction-none", "classifier", ValueError, r"criterion__reduction='none': training needs one "
         r"loss per batch", {"criterion__reduction": "none"}),
    Case("batch-size-one", "classifier", ValueError, r"batch_size=1 cannot train the network's BatchNorm layers.*"
         r"batch_size >= 2", {"batch_size": 1}),
    Case("batch-size-bool", "regressor", TypeError, r"batch_size=True is a bool, not a number; pass an int",
         {"batch_size": True}),
    Case("batch-size-bool-extractor", "extractor", TypeError, r"batch_size=True is a bool", {"batch_size": True}),
    Case("max-epochs-bool", "classifier", TypeError, r"max_epochs=True is a bool", {"max_epochs": True}),
    Case("early-stopping-callback", "classifier", ValueError, r"callbacks\[0\] \(EarlyStopping\) monitors "
         r"'valid_loss', but this fit holds no validation split; set validation_fraction",
         {"callbacks": [EarlyStopping()]}),
    Case("checkpoint-callback", "regressor", ValueError, r"callbacks\[0\] \(Checkpoint\) monitors 'valid_loss_best'",
         {"callbacks": [Checkpoint(dirname="/nonexistent-never-written")]}),
    Case("module-not-a-backbone", "classifier", TypeError, r"backbone=Linear cannot take images.*"
         r"Backbone\.from_module", {"backbone": torch.nn.Linear(3, 4)}),
    Case("diverged", "classifier", ValueError, r"training diverged: the loss became (nan|inf) in epoch \d+ \(lr=1000000\.0\)\. "
         r"Lower lr", {"lr": 1e6, "max_epochs": 2}),
    Case("diverged-regressor", "regressor", ValueError, r"training diverged.*Lower lr", {"lr": 1e12}),
    # sample weights and fit keywords
    Case("sample-weight-fraction", "classifier", ValueError, r"whole-number sample_weight.*got 0\.5.*class_weight",
         fit_kwargs={"sample_weight": np.r_[0.5, np.ones(59)]}),
    Case("sample-weight-negative", "regressor", ValueError, r"sample_weight holds NaN, infinite or negative values",
         fit_kwargs={"sample_weight": np.r_[-1.0, np.ones(59)]}),
    Case("sample-weight-shape", "classifier", ValueError, r"sample_weight has shape \(59,\); pass one weight per "
         r"image, shape \(60,\)", fit_kwargs={"sample_weight": np.ones(59)}),
    Case("sample-weight-zeros", "classifier", ValueError, r"every sample_weight is zero",
         fit_kwargs={"sample_weight": np.zeros(60)}),
    Case("sample-domain-classifier", "classifier", TypeError, r"FineTunedClassifier\.fit\(\) takes no sample_domain.*"
         r"DomainAdaptiveClassifier", fit_kwargs={"sample_domain": np.ones(60)}),
    Case("fit-keyword-typo", "regressor", TypeError, r"unexpected keyword argument 'epochs'.*constructor or "
         r"set_params", fit_kwargs={"epochs": 3}),
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
    X_copy, y_copy, kwargs_copy = X.copy(), copy.deepcopy(y_in), copy.deepcopy(case.fit_kwargs)
    original = est.get_params()
    est.set_params(**case.params)
    with pytest.raises(case.exc, match=case.match) as info:
        est.fit(X, y_in, **case.fit_kwargs)
    # Raised by sktransfer, or by scikit-learn's own parameter and target validation: never from deep inside
    # numpy, pandas, torch or skorch.
    assert {"sktransfer", "sklearn"} & set(info.traceback[-1].path.parts), f"raised in {info.traceback[-1].path}"
    np.testing.assert_array_equal(X, X_copy)  # the user's data is never modified
    if y_in is not None:
        assert repr(np.asarray(y_in, dtype=object).tolist()) == repr(np.asarray(y_copy, dtype=object).tolist())
    for key, value in case.fit_kwargs.items():
        np.testing.assert_array_equal(value, kwargs_copy[key])
    for key in case.params:  # back to the parameters of the fit: the old model must be intact
        if key in original:
            est.set_params(**{key: original[key]})
        else:
            delattr(est, key)
    np.testing.assert_array_equal(_outputs(est, Xt), before)
