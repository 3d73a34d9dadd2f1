"""What the fine-tuned estimators' tests share: a tiny network, and why sklearn's tabular checks fail.

Not a test module: test modules import from it (also the checks each estimator fails, with their reasons).
"""

# A tiny random-init timm model: every fit takes well under a second.
FAST = dict(backbone="timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0, batch_size=16,
            layer=None, augment=None, early_stopping=None, tta=0,
            validation_fraction=None, verbose=0, random_state=0, input_shape=(8, 8))

TABULAR = ("sklearn's check data is tabular (n_samples, n_features) with a varying n_features and values "
           "outside [0, 1]; images need input_shape=(H, W) for flattened arrays, so fit raises a "
           "ValueError asking for input_shape before anything else can be checked")

#: sklearn checks both fine-tuned estimators fail for the tabular reason, or for another stated one.
EXPECTED_FAILED_CHECKS = {
    **{name: TABULAR for name in [
        "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
        "check_estimators_dtypes", "check_pipeline_consistency", "check_estimators_pickle",
        "check_f_contiguous_array_estimator", "check_supervised_y_2d", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent",
        "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
        # fit takes sample_weight (whole numbers, as repeated images); these feed it tabular X
        "check_sample_weights_pandas_series", "check_sample_weights_not_an_array", "check_sample_weights_list",
        "check_sample_weights_shape", "check_sample_weights_not_overwritten",
        "check_sample_weight_equivalence_on_dense_data",
    ]},
    "check_positive_only_tag_during_fit": "negative pixels are rejected, but the input_shape error (2-D X "
                                          "without an image shape) comes first, so the message differs",
    "check_estimators_nan_inf": "NaN is rejected, but the input_shape error for 2-D X comes first, so the "
                                "message does not name NaN",
    "check_fit2d_1feature": "a (10, 1) array is rejected for lacking input_shape, not with sklearn's "
                            "'1 feature(s)' wording",
    "check_dtype_object": "a 2-D object array holding numbers is refused with a message to pass a numeric dtype "
                          "array (X.astype(np.float32)); sklearn expects it to be read as numbers",
}

#: sklearn checks FineTunedClassifier fails (beyond EXPECTED_FAILED_CHECKS), with their reasons.
CLASSIFIER_FAILED_CHECKS = {
    **EXPECTED_FAILED_CHECKS,
    **{name: TABULAR for name in [
        "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
        "check_class_weight_classifiers", "check_decision_proba_consistency",
        "check_classifiers_multilabel_representation_invariance",
        "check_classifiers_multilabel_output_format_predict",
        "check_classifiers_multilabel_output_format_predict_proba",
        "check_classifiers_multilabel_output_format_decision_function",
    ]},
}

#: sklearn checks FineTunedRegressor fails, with their reasons.
REGRESSOR_FAILED_CHECKS = {
    **EXPECTED_FAILED_CHECKS,
    **{name: TABULAR for name in [
        "check_regressor_data_not_an_array", "check_regressors_train", "check_regressors_int",
        "check_regressors_no_decision_function", "check_regressor_multioutput",
        "check_regressors_train(readonly_memmap=True)", "check_regressors_train(readonly_memmap=True,X_dtype=float32)",
    ]},
    "check_fit2d_1sample": "a (1, 10) array is rejected for lacking input_shape before its single sample is "
                           "noticed, so the message names input_shape rather than the sample count",
}

#: DomainAdaptiveClassifier: the classifier's, but multi-label y, which it does not take.
DOMAIN_FAILED_CHECKS = {k: v for k, v in CLASSIFIER_FAILED_CHECKS.items() if "multilabel" not in k}
