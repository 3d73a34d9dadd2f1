"""scikit-learn's own estimator checks on the transformers (extractor, HOG, pixels) and the pretrainer.

Most of sklearn's checks feed small tabular arrays of arbitrary width and
range (e.g. shape (20, 3) with negative values). Those are not images: a
flattened image needs ``input_shape`` and pixels in [0, 1] or 0..255, so the
extractor refuses them with a clear error. The checks that fail for that
reason alone are listed below; the properties they guard (pickling,
idempotent fit, sample-order invariance, not modifying inputs, ...) are
tested on real images in test_features.py and test_baselines.py instead.
FineTunedClassifier's checks are in test_finetune.py.
"""

import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import _yield_all_checks, parametrize_with_checks

from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor, HOGTransformer, \
    PixelTransformer, PretrainedFeatureExtractor, SelfSupervisedPretrainer

TABULAR = (
    "feeds tabular 2-D data of arbitrary width (e.g. (20, 3)) and range; images need "
    "input_shape and pixels in [0, 1] or 0..255, so fit raises a clear ValueError "
    "(the same property is tested on images in test_features.py and test_baselines.py)"
)

EXPECTED_FAILED_CHECKS = {
    name: TABULAR
    for name in [
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1sample",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    ]
}
EXPECTED_FAILED_CHECKS["check_dtype_object"] = (
    "a 2-D object array holding numbers is refused with a message to pass a numeric dtype array (X.astype(np.float32)); sklearn expects it to be read as numbers"
)


TRANSFORMERS = [
    PretrainedFeatureExtractor("timm/resnet18", weights=None, image_size=16, verbose=0, random_state=0),
    HOGTransformer(orientations=4, pixels_per_cell=2, cells_per_block=1, image_size=8),
    PixelTransformer(image_size=4),
    # Not a transformer (fit only), but it reads images as the extractor does, and fails the same checks.
    SelfSupervisedPretrainer("timm/test_resnet", weights=None, image_size=16, max_epochs=1, batch_size=8, verbose=0,
                             random_state=0),
]


@parametrize_with_checks(TRANSFORMERS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_checks(estimator, check):
    check(estimator)


def _expected_failures():
    from tiny import CLASSIFIER_FAILED_CHECKS as CLASSIFIER_FAILURES
    from tiny import DOMAIN_FAILED_CHECKS, FAST
    from tiny import REGRESSOR_FAILED_CHECKS as REGRESSOR_FAILURES

    tiny = {**FAST, "input_shape": None}
    fit_only = {k: v for k, v in EXPECTED_FAILED_CHECKS.items() if not k.startswith("check_transformer")}
    return [(est, fit_only if isinstance(est, SelfSupervisedPretrainer) else EXPECTED_FAILED_CHECKS)
            for est in TRANSFORMERS] + [
        (FineTunedClassifier(**tiny), CLASSIFIER_FAILURES), (FineTunedRegressor(**tiny), REGRESSOR_FAILURES),
        (DomainAdaptiveClassifier(**tiny), DOMAIN_FAILED_CHECKS)]


#: What each expected failure's reason says happens: fit refuses sklearn's tabular data as images.
REASON_IN_ERROR = ("flattened images need input_shape", "object array (dtype=object", "holding numbers")


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("estimator, expected", _expected_failures(), ids=lambda v: type(v).__name__)
def test_every_expected_failure_fails_for_its_stated_reason(estimator, expected):
    """An expected failure must not hide another bug (as random-init non-determinism once hid behind
    "tabular input"): each listed check really fails, and with the input error its reason names."""
    ran = set()
    for check in _yield_all_checks(estimator, legacy=True):
        name = getattr(check, "func", check).__name__
        if name not in expected:
            continue
        ran.add(name)
        with pytest.raises(Exception) as info:
            check(type(estimator).__name__, clone(estimator))
        cause = info.value.__cause__ or info.value.__context__
        text = f"{info.value} {cause or ''}"
        assert any(reason in text for reason in REASON_IN_ERROR), (name, text[:300])
    assert ran == {name.split("(")[0] for name in expected}
