"""Learning from unlabelled images: FixMatch in FineTunedClassifier, DomainAdaptiveClassifier, scorers.

The accuracy goals (MNIST with 10 labels per class, MNIST -> MNIST-M) are
measured by ``benchmarks/bench_unlabeled.py``; here, on tiny networks, what
the code must do: which rows train, in which batches, with which losses,
and what bad input gets.
"""

import copy
import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from skorch.callbacks import Callback
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier
from sktransfer.estimators._domain import DISCRIMINATOR_LR
from sktransfer.backbones import get_backbone
from sktransfer.images import as_image_set
from sktransfer.metrics import labeled_accuracy_scorer, prediction_entropy_scorer
from sktransfer.nn import PRESETS, BatchAugment
from sktransfer.nn import ImageEncoder, recompute_batchnorm
from sktransfer.training import DeviceBatchIterator, ImageDataset
from tiny import DOMAIN_FAILED_CHECKS
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

SEMI = {**FAST, "max_epochs": 2}


@pytest.fixture(scope="module")
def semi(digits):
    """60 labelled digits (6 per class), 120 unlabelled (y == -1), and 60 test digits."""
    X, y = digits
    y_semi = y[:180].copy()
    y_semi[60:] = -1
    return X[:180], y_semi, X[180:240], y[180:240]


@pytest.fixture(scope="module")
def domains(digits):
    """Source: 90 digits; target: 90 other digits, inverted (1 - x), unlabelled."""
    X, y = digits
    X_fit = np.concatenate([X[:90], 1.0 - X[90:180]])
    y_fit = np.concatenate([y[:90], np.full(90, -1)])
    return X_fit, y_fit, 1.0 - X[180:240], y[180:240]


class BatchRecorder(Callback):
    """Records each training batch's labels and the batch size the trunk's first layer sees."""

    def on_train_begin(self, net, **kwargs):
        self.labels_, self.trunk_sizes_ = [], []
        discriminator = getattr(net, "discriminator_", None)  # a module of the net, not of the network
        ids = {id(p) for p in discriminator.parameters()} if discriminator is not None else set()
        head_lr = max(g["lr"] for g in net.optimizer_.param_groups)  # the warm-up scales every group alike
        self.discriminator_lrs_ = [g["lr"] / head_lr for g in net.optimizer_.param_groups
                                   if ids & {id(p) for p in g["params"]}]
        first = next(m for m in net.module_.encoder.trunk.modules() if isinstance(m, torch.nn.Conv2d))
        self.handle_ = first.register_forward_hook(
            lambda module, args, out: self.trunk_sizes_.append(args[0].shape[0]) if module.training else None)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.labels_.append(batch[1].cpu().numpy())

    def on_train_end(self, net, **kwargs):
        self.handle_.remove()


# --------------------------------------------------------------------------- the batches


def _dataset(n_labeled, n_unlabeled, ratio):
    n = n_labeled + n_unlabeled
    images = as_image_set(np.zeros((n, 4, 4), dtype=np.uint8))
    y = torch.as_tensor(np.r_[np.arange(n_labeled) % 3, np.full(n_unlabeled, -1)])
    return ImageDataset(images, np.arange(n_labeled), y, device=torch.device("cpu"), image_size=(4, 4), channels=1,
                        rng=np.random.default_rng(0), unlabeled=np.arange(n_labeled, n), unlabeled_ratio=ratio)


def test_mixed_batches_put_labelled_rows_first_and_see_every_unlabelled_row_once_per_epoch():
    data = _dataset(10, 45, ratio=2.0)
    batches = [y.numpy() for _, y in DeviceBatchIterator(data, batch_size=4, shuffle=True)]
    # 4 labelled + 8 unlabelled per batch; ceil(45 / 8) = 6 batches, cycling the 10 labelled rows.
    assert len(batches) == len(DeviceBatchIterator(data, batch_size=4, shuffle=True)) == 6
    for y in batches:
        assert len(y) == 12 and (y[:4] >= 0).all() and (y[4:] == -1).all()
    # Validation and prediction (no shuffle) read the labelled rows only.
    assert sum(len(y) for _, y in DeviceBatchIterator(data, batch_size=4)) == 10


def test_mixed_batches_with_fewer_labels_than_a_batch_take_them_all_each_step():
    data = _dataset(3, 20, ratio=1.0)
    sizes = [len(y) for _, y in DeviceBatchIterator(data, batch_size=8, shuffle=True)]
    assert sizes == [3 + 8] * 3  # 3 labelled + 8 unlabelled per step, ceil(20 / 8) steps


# --------------------------------------------------------------------------- FixMatch


def test_fixmatch_trains_on_unlabelled_rows_in_the_same_batch_as_labelled_ones(semi):
    X, y, Xt, yt = semi
    recorder = BatchRecorder()
    clf = FineTunedClassifier(**{**SEMI, "unlabeled_ratio": 2.0}, callbacks=[recorder]).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert set(np.unique(clf.predict(Xt))) <= set(range(10))  # never the -1 marker
    # 16 labelled + 32 unlabelled rows per batch; the trunk sees labelled, weak and strong views at once,
    # so BatchNorm normalises over labelled and unlabelled images together.
    assert all(len(labels) == 48 and (labels[16:] == -1).all() for labels in recorder.labels_)
    assert recorder.trunk_sizes_[0] == 16 + 2 * 32
    assert len(recorder.labels_) == 2 * 4  # ceil(120 / 32) steps per epoch, 2 epochs
    assert 0.0 <= clf.history_[-1, "pseudo_label_rate"] <= 1.0


class AllLabelledStep(Callback):
    """Runs one training step on a batch without unlabelled rows, before training starts."""

    def on_train_begin(self, net, X=None, **kwargs):
        x, y = next(iter(net.get_iterator(X, training=True)))
        labeled = y >= 0
        self.loss_ = float(net.train_step_single((x[labeled], y[labeled]))["loss"].detach())
        net.optimizer_.zero_grad()


@pytest.mark.parametrize("estimator", [FineTunedClassifier, DomainAdaptiveClassifier])
def test_a_batch_without_unlabelled_rows_takes_the_supervised_step(semi, estimator):
    X, y, _, _ = semi
    step = AllLabelledStep()
    estimator(**{**SEMI, "augment": "light"}, callbacks=[step]).fit(X, y)
    assert np.isfinite(step.loss_) and step.loss_ > 0


def test_pseudo_label_threshold_decides_which_unlabelled_rows_count(semi):
    X, y, _, _ = semi
    rates = {t: FineTunedClassifier(**SEMI, pseudo_label_threshold=t).fit(X, y).history_[:, "pseudo_label_rate"]
             for t in (0.0, 1.0)}
    assert rates[0.0] == [1.0, 1.0]  # every prediction is confident enough
    assert max(rates[1.0]) < 0.9  # only those whose float32 softmax rounds to 1


def test_semi_supervised_none_is_the_same_fit_as_the_labelled_rows_alone(semi):
    X, y, Xt, _ = semi
    labeled = y != -1
    ignore = FineTunedClassifier(**SEMI, semi_supervised="none").fit(X, y)
    alone = FineTunedClassifier(**SEMI).fit(X[labeled], y[labeled])
    np.testing.assert_allclose(ignore.predict_proba(Xt), alone.predict_proba(Xt), rtol=1e-5, atol=1e-6)
    fixmatch = FineTunedClassifier(**SEMI).fit(X, y)
    assert not np.allclose(fixmatch.predict_proba(Xt), alone.predict_proba(Xt), atol=1e-4)


def test_fixmatch_is_reproducible_with_a_seed(semi):
    X, y, Xt, _ = semi
    a, b = (FineTunedClassifier(**SEMI).fit(X, y).predict_proba(Xt) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_string_labels_take_the_int_minus_one_as_the_unlabelled_marker(semi):
    X, y, Xt, _ = semi
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    y_str = np.array([-1 if v == -1 else names[v] for v in y], dtype=object)
    clf = FineTunedClassifier(**SEMI).fit(X, y_str)
    assert sorted(clf.classes_) == sorted(names)
    assert set(clf.predict(Xt)) <= set(names)
    # A list works too (numpy would turn -1 into the string "-1").
    assert len(FineTunedClassifier(**SEMI).fit(X, list(y_str)).classes_) == 10
    with pytest.warns(UserWarning, match='string "-1", which is taken as a class'):
        FineTunedClassifier(**SEMI).fit(X[:60], np.where(np.arange(60) < 5, "-1", names[y[:60] % 10]))


def test_score_skips_unlabelled_rows(semi):
    X, y, Xt, yt = semi
    clf = FineTunedClassifier(**SEMI).fit(X, y)
    mixed_y = np.r_[yt, np.full(len(Xt), -1)]
    assert clf.score(np.r_[Xt, Xt], mixed_y) == pytest.approx(clf.score(Xt, yt))
    assert labeled_accuracy_scorer(clf, np.r_[Xt, Xt], mixed_y) == pytest.approx(clf.score(Xt, yt))
    with pytest.raises(ValueError, match="every label in y is -1"):
        clf.score(Xt, np.full(len(Xt), -1))


@pytest.mark.parametrize("y, match", [
    (np.full(30, -1), "every label in y is -1"),
    (np.r_[np.zeros(10, int), np.full(20, -1)], r"20 images are marked -1, unlabelled; if -1 is a class"),
    (np.r_[np.ones(10, int), -np.ones(20, int)], "if -1 is a class, recode it"),
])
def test_semi_supervised_errors(digits, y, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        FineTunedClassifier(**SEMI).fit(X[:30], y)


def test_semi_supervised_parameters_are_validated(semi):
    X, y, _, _ = semi
    for params in ({"semi_supervised": "mixmatch"}, {"pseudo_label_threshold": 1.5}, {"unlabeled_ratio": 0},
                   {"unlabeled_weight": -1}):
        with pytest.raises(ValueError, match=next(iter(params))):
            FineTunedClassifier(**SEMI, **params).fit(X, y)


def test_frozen_backbone_with_unlabelled_rows_trains_the_head_instead_of_stopping_at_the_probe(semi):
    X, y, _, _ = semi
    clf = FineTunedClassifier(**{**SEMI, "layer": None}, trainable_blocks=0).fit(X, y)
    assert clf.n_steps_ > 0 and not clf.features_cached_
    assert FineTunedClassifier(**SEMI, trainable_blocks=0).fit(X[y != -1], y[y != -1]).n_steps_ == 0


# --------------------------------------------------------------------------- domain adaptation


@pytest.mark.parametrize("method, keys", [("dann", {"domain_acc", "reversal", "adaptation_loss", "pseudo_label_rate"}),
                                          ("coral", {"adaptation_loss", "pseudo_label_rate"})])
def test_domain_adaptation_records_its_losses_and_keeps_no_discriminator(domains, method, keys):
    X, y, Xt, yt = domains
    recorder = BatchRecorder()
    clf = DomainAdaptiveClassifier(**SEMI, method=method, callbacks=[recorder]).fit(X, y)
    assert keys <= set(clf.history_[-1]) and clf.n_target_ == 90
    # As many target as source rows in each batch.
    assert all(len(labels) == 32 and (labels[16:] == -1).all() for labels in recorder.labels_)
    assert not any(k.startswith("discriminator") for k in clf.module_.state_dict())
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(Xt), clf.predict_proba(Xt), rtol=1e-6)
    if method == "dann":
        reversal = clf.history_[:, "reversal"]
        assert 0 < reversal[0] < reversal[1] < 1  # Ganin's schedule rises over training
        # The domain classifier trains, in a group of its own, slower than the head.
        assert recorder.discriminator_lrs_ == [pytest.approx(DISCRIMINATOR_LR)]


@pytest.mark.parametrize("batchnorm, threshold, sizes", [
    ("per-domain", 0.8, [16, 32]),   # the source's 16 rows, then the target's augmented and weak views
    ("per-domain", None, [16, 16]),
    ("mixed", None, [32]),           # one batch: BatchNorm over both domains
    ("mixed", 0.8, [48]),
])
def test_each_domain_is_normalised_apart_or_both_together(domains, batchnorm, threshold, sizes):
    X, y, _, _ = domains
    recorder = BatchRecorder()
    clf = DomainAdaptiveClassifier(**SEMI, batchnorm=batchnorm, pseudo_label_threshold=threshold,
                                   callbacks=[recorder]).fit(X, y)
    steps = len(recorder.labels_)
    assert recorder.trunk_sizes_ == sizes * steps
    assert ("pseudo_label_rate" in clf.history_[-1]) == (threshold is not None)


def test_self_training_takes_the_confident_target_predictions(domains):
    X, y, _, _ = domains
    everyone = DomainAdaptiveClassifier(**SEMI, pseudo_label_threshold=0.0).fit(X, y)
    assert everyone.history_[:, "pseudo_label_rate"] == [1.0, 1.0]
    # The tiny network is saturated on many target images (probability 1.0 in float32), not on all.
    picky = DomainAdaptiveClassifier(**SEMI, pseudo_label_threshold=0.99).fit(X, y)
    assert 0 < min(picky.history_[:, "pseudo_label_rate"]) and max(picky.history_[:, "pseudo_label_rate"]) < 1
    with pytest.raises(ValueError, match="pseudo_label_threshold"):
        DomainAdaptiveClassifier(**SEMI, pseudo_label_threshold=1.5).fit(X, y)


def test_method_none_is_the_source_only_classifier(domains):
    X, y, Xt, _ = domains
    source_only = DomainAdaptiveClassifier(**SEMI, method="none", batchnorm="mixed").fit(X, y)
    plain = FineTunedClassifier(**SEMI, semi_supervised="none").fit(X, y)
    np.testing.assert_allclose(source_only.predict_proba(Xt), plain.predict_proba(Xt), rtol=1e-5, atol=1e-6)


def _batchnorm_stats(module):
    return {k: v.clone() for k, v in module.state_dict().items() if k.endswith(("running_mean", "running_var"))}


@pytest.mark.parametrize("method", ["none", "coral"])
def test_per_domain_batchnorm_ends_with_the_target_images_statistics(domains, method):
    X, y, _, _ = domains
    clf = DomainAdaptiveClassifier(**SEMI, method=method).fit(X, y)
    got = _batchnorm_stats(clf.module_)
    assert len(got) > 0 and not clf.module_.training
    cpu = torch.device("cpu")
    for rows, same in ((y == -1, True), (y != -1, False)):
        module = copy.deepcopy(clf.module_)
        recompute_batchnorm(module.encoder, as_image_set(X[rows], input_shape=(8, 8)), batch_size=16, device=cpu)
        expected = _batchnorm_stats(module)
        close = all(torch.allclose(got[k], expected[k], rtol=1e-4, atol=1e-5) for k in got)
        assert close == same  # the target's statistics, not the source's
    mixed = DomainAdaptiveClassifier(**SEMI, method="none", batchnorm="mixed").fit(X, y)
    plain = FineTunedClassifier(**SEMI, semi_supervised="none").fit(X, y)
    assert all(torch.equal(v, _batchnorm_stats(plain.module_)[k]) for k, v in _batchnorm_stats(mixed.module_).items())


def test_recompute_batchnorm_averages_the_batch_statistics_of_the_images():
    encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (16, 16))
    norm = encoder.trunk.get_submodule("model.bn1")
    seen = []
    handle = norm.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().float().clone()))
    images = as_image_set(np.random.default_rng(0).random((9, 16, 16, 3)))
    cpu = torch.device("cpu")
    try:
        # 9 images in batches of 4 would leave a batch of one image: the batches are 5 and 4
        assert recompute_batchnorm(encoder, images, batch_size=4, device=cpu) > 0
        uneven = list(seen)
        seen.clear()
        recompute_batchnorm(encoder, images, batch_size=3, device=cpu)
    finally:
        handle.remove()
    assert [len(a) for a in uneven] == [5, 4] and [len(a) for a in seen] == [3, 3, 3]
    # Equal batches: the mean is the images' mean; the variance, the average of the batches' variances.
    torch.testing.assert_close(norm.running_mean, torch.cat(seen).mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    variances = torch.stack([b.var(dim=(0, 2, 3)) for b in seen]).mean(0)
    torch.testing.assert_close(norm.running_var, variances, rtol=1e-3, atol=1e-5)
    assert norm.momentum == 0.1 and not encoder.training  # put back as it was
    with pytest.raises(ValueError, match="at least 2 images"):
        recompute_batchnorm(encoder, images, batch_size=4, device=cpu, indices=[3])
    # 13 images: batches of 3 or of 4 would both leave one image alone; batches of 5 do not
    seen.clear()
    handle = norm.register_forward_pre_hook(lambda m, args: seen.append(len(args[0])))
    try:
        recompute_batchnorm(encoder, as_image_set(np.random.default_rng(1).random((13, 16, 16, 3))), batch_size=3,
                            device=cpu)
    finally:
        handle.remove()
    assert seen == [5, 5, 3]


def test_domain_augmentation_shuffles_colour_channels_and_inverts_images():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    shuffled = BatchAugment(channel_shuffle=True)(x.clone())
    means, shuffled_means = x.mean(dim=(2, 3)), shuffled.mean(dim=(2, 3))
    assert torch.allclose(means.sort(dim=1).values, shuffled_means.sort(dim=1).values)  # the same channels
    assert not torch.equal(shuffled, x) and (shuffled_means != means).any(dim=1).float().mean() > 0.5
    torch.testing.assert_close(BatchAugment(invert_p=1.0)(x.clone()), 1 - x)
    halves = BatchAugment(invert_p=0.5)(x.clone())
    inverted = torch.isclose(halves, 1 - x).flatten(1).all(dim=1)
    assert 16 < int(inverted.sum()) < 48 and torch.equal(halves[~inverted], x[~inverted])
    gray = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(BatchAugment(channel_shuffle=True)(gray.clone()), gray)
    assert DomainAdaptiveClassifier().augment == "domain" and BatchAugment(**PRESETS["domain"]).invert_p == 0.5


def test_sample_domain_marks_the_target_rows_whatever_their_labels(domains, digits):
    X, y, Xt, _ = domains
    _, y_true = digits
    domain = np.r_[np.ones(90, int), -np.ones(90, int)]
    labelled_target = np.r_[y[:90], y_true[90:180]]  # target labels given, but must never be read
    by_domain = DomainAdaptiveClassifier(**SEMI).fit(X, labelled_target, sample_domain=domain)
    by_marker = DomainAdaptiveClassifier(**SEMI).fit(X, y)
    np.testing.assert_allclose(by_domain.predict_proba(Xt), by_marker.predict_proba(Xt), rtol=1e-5, atol=1e-6)
    assert labelled_target[100] != -1  # the caller's y is not changed


@pytest.mark.parametrize("case, match", [
    ("no_target", "needs target-domain images, and got only labelled"),
    ("short_domain", r"sample_domain has shape \(10,\) but y has 180 labels"),
    ("one_domain", "sample_domain marks only source images: one domain"),
    ("zero_domain", "nonzero numbers"),
    ("unlabelled_source", "source images .* are labelled -1"),
    ("multilabel", "multi-label y is not supported"),
    ("batchnorm", r"'batchnorm' parameter .* must be a str among"),
    ("weight", r"'unlabeled_weight' parameter .* must be a float in the range \[0.0, inf\). Got -1.0"),
])
def test_domain_adaptation_errors(domains, case, match):
    X, y, _, _ = domains
    clf = DomainAdaptiveClassifier(**SEMI)
    source = np.r_[np.ones(90, int), -np.ones(90, int)]
    call = {
        "no_target": lambda: clf.fit(X[:90], y[:90]),
        "short_domain": lambda: clf.fit(X, y, sample_domain=np.ones(10)),
        "one_domain": lambda: clf.fit(X, np.r_[y[:90], y[:90]], sample_domain=np.ones(180)),
        "zero_domain": lambda: clf.fit(X, y, sample_domain=np.r_[source[:-1], 0]),
        "unlabelled_source": lambda: clf.fit(X, np.r_[y[:89], -1, y[90:]], sample_domain=source),
        "multilabel": lambda: clf.fit(X, np.tile([[0, 1], [1, 0]], (90, 1))),
        "batchnorm": lambda: clf.set_params(batchnorm="target").fit(X, y),
        "weight": lambda: clf.set_params(unlabeled_weight=-1.0).fit(X, y),
    }[case]
    with pytest.raises(ValueError, match=match):
        call()
    assert not hasattr(clf, "module_")


def test_sample_domain_is_routed_by_metadata_routing_and_entropy_chooses_without_target_labels(domains):
    X, y, _, _ = domains
    domain = np.r_[np.ones(90, int), -np.ones(90, int)]
    order = np.random.default_rng(0).permutation(180)  # both domains in every fold
    with sklearn.config_context(enable_metadata_routing=True):
        est = DomainAdaptiveClassifier(**SEMI).set_fit_request(sample_domain=True)
        search = GridSearchCV(est, {"adaptation_weight": [0.1, 1.0]}, cv=KFold(2),
                              scoring=prediction_entropy_scorer)
        search.fit(X[order], y[order], sample_domain=domain[order])
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores <= 0) and np.all(np.isfinite(scores))
    assert search.best_estimator_.n_target_ == 90


def test_prediction_entropy_scorer_looks_only_at_unlabelled_rows(digits):
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    clf = LogisticRegression(C=0.01, max_iter=200).fit(X[:200], y[:200])  # soft probabilities
    proba = clf.predict_proba(X[200:210])
    expected = float(np.mean(np.sum(proba * np.log(proba), axis=1)))
    mixed_y = np.r_[np.full(10, -1), y[210:230]]
    assert prediction_entropy_scorer(clf, X[200:230], mixed_y) == pytest.approx(expected)
    assert prediction_entropy_scorer(clf, X[200:210]) == pytest.approx(expected)  # no y: every row
    assert prediction_entropy_scorer(clf, X[200:230]) != pytest.approx(expected)


# --------------------------------------------------------------------------- sklearn's checks


@parametrize_with_checks([DomainAdaptiveClassifier(**{**FAST, "input_shape": None})],
                         expected_failed_checks=lambda est: DOMAIN_FAILED_CHECKS)
def test_domain_adaptive_classifier_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_clone_keeps_the_new_parameters():
    est = DomainAdaptiveClassifier(method="coral", adaptation_weight=0.3, batchnorm="mixed",
                                   pseudo_label_threshold=None, unlabeled_weight=2.0)
    params = clone(est).get_params()
    assert [params[k] for k in ("method", "batchnorm", "pseudo_label_threshold", "unlabeled_weight")] == \
        ["coral", "mixed", None, 2.0]
    defaults = DomainAdaptiveClassifier().get_params()
    assert [defaults[k] for k in ("method", "batchnorm", "augment", "max_epochs", "early_stopping")] == \
        ["dann", "per-domain", "domain", 10, None]
    clf = FineTunedClassifier(semi_supervised="none", pseudo_label_threshold=0.8, unlabeled_ratio=5)
    assert {k: clone(clf).get_params()[k] for k in ("semi_supervised", "pseudo_label_threshold", "unlabeled_ratio")} \
        == {"semi_supervised": "none", "pseudo_label_threshold": 0.8, "unlabeled_ratio": 5}
