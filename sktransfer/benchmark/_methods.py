"""The benchmark's methods, one small class each: its name, what it prepares once, how it fits and scores a split.

Two families share their code:

- :class:`FeatureMethod` (``pixels``, ``hog``, ``lbp``, ``features``): label-free
  features computed once per dataset and variant in :meth:`~Method.prepare`,
  then per split a classifier whose hyperparameters and variant are chosen
  by inner cross-validation on the training set.
- :class:`NetworkMethod` (``finetune``, ``probe``, ``scratch``, ``fixmatch``, and the
  domain adaptation of ``adabn``, ``dann`` and ``coral``): one estimator fit
  per split, tuned only with ``finetune_grid``; some also get the split's
  unlabelled pool.
- :class:`SkadaMethod` (``skada-coral``, ``skada-sa``): skada's shallow
  adaptation on the frozen features of ``features``, computed once; never
  in the default methods, as skada is optional.

``_selfsup_methods`` adds the self-supervised ones; ``_catalog`` names them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..backbones import mid_blocks
from ..estimators import (SEMI_SUPERVISED_PARAMS, DomainAdaptiveClassifier, FineTunedClassifier, HOGTransformer,
                          LBPTransformer, PixelTransformer, PretrainedFeatureExtractor)
from .evaluation import confusion, describe_fit, scores

__all__ = ["CORAL", "DANN", "LBP", "AdaBN", "DomainAdaptation", "FeatureMethod", "Features",
           "FineTune", "FixMatch", "HOG", "Method", "NetworkMethod", "Pixels", "Probe", "Scratch", "Settings",
           "SkadaCORAL", "SkadaMethod", "SkadaSubspaceAlignment"]


def _quiet(message):
    """A log that prints nothing."""


@dataclass
class Settings:
    """What the methods take from :func:`~sktransfer.benchmark.run_benchmark`'s arguments.

    Attributes
    ----------
    backbone : str
        Backbone of the ``features`` and network methods.
    image_size : int or None
        The side asked for, or None (``features`` then uses ``backbone_size``,
        the network estimators their own ``image_size="auto"``).
    backbone_size : int or None
        The side ``features`` resizes to.
    finetune_params, finetune_grid : dict or None
        The network estimators' parameters, and the grid their inner search tries.
    cv, device, n_jobs
        Inner cross-validation folds, torch device, parallel jobs.
    log : callable
        Takes a progress message.
    shared : dict
        Fitted objects the run's methods share (the self-supervised pretrainers), dropped with the run.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import Settings
    >>> Settings(backbone_size=32).cv
    3
    """

    backbone: str = "efficientnet_lite0"
    image_size: int | None = None
    backbone_size: int | None = None
    finetune_params: dict = field(default_factory=dict)
    finetune_grid: dict | list | None = None
    cv: int = 3
    device: str = "auto"
    n_jobs: int | None = 1
    log: object = _quiet
    shared: dict = field(default_factory=dict)


class Method:
    """One way to classify images in the benchmark.

    A subclass sets :attr:`name`; the runner makes one object per run of the
    benchmark, calls :meth:`prepare` once with the dataset, then :meth:`run`
    for every split.

    Parameters
    ----------
    settings : Settings, default=None
        The benchmark's settings; None uses :class:`Settings`' defaults.

    Examples
    --------
    >>> from sktransfer.benchmark.runner import METHOD_CLASSES
    >>> [name for name, cls in METHOD_CLASSES.items() if cls.uses_pool]
    ['fixmatch', 'adabn', 'dann', 'coral', 'skada-coral', 'skada-sa']
    """

    #: The method's name in ``methods=``, the tables and the files.
    name = ""
    #: Whether it fits a network over the backbone (FineTunedClassifier's parameters apply).
    network = False
    #: Whether it learns from the split's unlabelled pool too.
    uses_pool = False
    #: Whether it adapts to a target domain (``target=`` is required).
    needs_target = False
    #: The optional package it needs (never a default method then), or None.
    requires = None

    def __init__(self, settings=None):
        self.settings = Settings() if settings is None else settings

    def prepare(self, ds):
        """Work done once per dataset, before any split (nothing by default)."""

    def run(self, ds, split):
        """Fit on ``split.train`` and score on ``split.test``: scores, confusion, times, ``tuned`` and ``chosen``."""
        raise NotImplementedError

    def n_unlabeled(self, split):
        """How many unlabelled images a run on ``split`` learns from."""
        return len(split.pool) if self.uses_pool else 0


def _inner_splits(y, cv):
    """Folds of the inner cross-validation: ``cv``, or fewer when a class has fewer images; 1 means none."""
    return min(cv, int(np.unique(y, return_counts=True)[1].min()))


class FeatureMethod(Method):
    """Label-free features computed once per variant, then a classifier chosen by inner cross-validation.

    A subclass gives :meth:`variants` (the feature transformers the inner
    search chooses among) and may change the classifier, its grid and the
    parameters used without a search (one image per class). The feature time
    is charged to every run: per image, times the run's number of images.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark import load_dataset
    >>> from sktransfer.benchmark._methods import HOG
    >>> from sktransfer.benchmark._splits import Split
    >>> ds = load_dataset("digits")
    >>> split = Split(0, "all", train=np.arange(0, 600), test=np.arange(1500, 1797), pool=np.array([], int))
    >>> hog = HOG()
    >>> hog.prepare(ds)  # both variants' features, for all 1797 images
    >>> row = hog.run(ds, split)
    >>> row["accuracy"] > 0.9, row["tuned"], row["chosen"].split(";")[0] in hog.features
    (True, True, True)
    """

    #: The parameters used when no inner search is possible.
    default = {"C": 10.0}
    grid = {"C": [0.1, 1.0, 10.0, 100.0]}

    def classifier(self):
        """An unfitted classifier for the features."""
        return SVC(kernel="rbf", gamma="scale")

    def variants(self, ds):
        """The feature transformers, by label, the inner search chooses among."""
        raise NotImplementedError

    def prepare(self, ds):
        """Compute every variant's features for the whole dataset, with their time per image."""
        log = self.settings.log
        self.features = {}
        for label, transformer in self.variants(ds).items():
            log(f"computing {self.name} ({label}) for {len(ds)} images ...")
            t0 = time.perf_counter()
            F = transformer.fit(ds.X).transform(ds.X)
            elapsed = time.perf_counter() - t0
            self.features[label] = (F, elapsed / len(ds))
            log(f"  {self.name} ({label}): {F.shape[1]} features in {elapsed:.1f}s")

    def run(self, ds, split):
        y, train, test, clf = ds.y, split.train, split.test, self.classifier()
        y_train = y[train]
        n_splits = _inner_splits(y_train, self.settings.cv)
        t0 = time.perf_counter()
        feature_cost = 0.0
        if n_splits >= 2:
            inner = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=split.seed)
            best = None
            for label, (F, per_image) in self.features.items():
                feature_cost += per_image * len(train)
                search = GridSearchCV(clone(clf), self.grid, cv=inner, n_jobs=self.settings.n_jobs, refit=False)
                search.fit(F[train], y_train)
                if best is None or search.best_score_ > best[0]:
                    best = (search.best_score_, label, search.best_params_)
            inner_score, chosen, params = best
        else:
            chosen, params, inner_score = next(iter(self.features)), self.default, float("nan")
            feature_cost += self.features[chosen][1] * len(train)
        F, per_image = self.features[chosen]
        model = clone(clf).set_params(**params).fit(F[train], y_train)
        fit_time = time.perf_counter() - t0 + feature_cost
        t1 = time.perf_counter()
        pred = model.predict(F[test])
        predict_time = time.perf_counter() - t1 + per_image * len(test)
        shown = ", ".join(f"{k.split('__')[-1]}={v:g}" for k, v in params.items())
        return dict(**scores(y[test], pred), **confusion(y[test], pred), fit_time_s=fit_time,
                    predict_time_s=predict_time, inner_cv_accuracy=float(inner_score), tuned=n_splits >= 2,
                    chosen=f"{chosen}; {shown}" if len(self.features) > 1 else shown)


def _color(ds):
    return "rgb" if ds.channels == 3 else "gray"


class Pixels(FeatureMethod):
    """``pixels``: resized raw pixels (at most 32 a side) + RBF SVM; ``C`` is tuned.

    Examples
    --------
    >>> from sktransfer.benchmark import load_dataset
    >>> from sktransfer.benchmark._methods import Pixels
    >>> list(Pixels().variants(load_dataset("digits")))
    ['8x8']
    """

    name = "pixels"

    def variants(self, ds):
        h, w = ds.image_shape
        scale = min(1.0, 32 / max(h, w))  # at most 32 pixels a side: an SVM on 150k pixels helps no one
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        return {f"{size[0]}x{size[1]}": PixelTransformer(image_size=size, color=_color(ds))}


class HOG(FeatureMethod):
    """``hog``: HOG + RBF SVM; ``C`` and the HOG cell/block variant are tuned.

    Examples
    --------
    Images larger than 32 pixels a side are resized to 64, smaller ones to 32:

    >>> from sktransfer.benchmark import Dataset
    >>> from sktransfer.benchmark._methods import HOG
    >>> photos = Dataset("photos", X=[], y=[], description="", image_shape=(100, 150), channels=3)
    >>> list(HOG().variants(photos))
    ['64px cell 8 block 3', '64px cell 16 block 2']
    """

    name = "hog"

    def variants(self, ds):
        side = 32 if max(ds.image_shape) <= 32 else 64
        n_jobs, color = self.settings.n_jobs, _color(ds)
        return {
            f"{side}px cell {side // 8} block 3": HOGTransformer(
                pixels_per_cell=side // 8, cells_per_block=3, image_size=side, color=color, n_jobs=n_jobs),
            f"{side}px cell {side // 4} block 2": HOGTransformer(
                pixels_per_cell=side // 4, cells_per_block=2, image_size=side, color=color, n_jobs=n_jobs),
        }


class LBP(FeatureMethod):
    """``lbp``: uniform local binary pattern histograms (radii 1, 2 and 3, 8 points) + RBF SVM; ``C`` and the
    cell grid are tuned: one histogram of the whole image (texture alone), or 4x4 cells (where it is, too).

    Images are resized to 32 px a side when at most 32, 64 when at most 64, else 128.

    Examples
    --------
    >>> from sktransfer.benchmark import Dataset
    >>> from sktransfer.benchmark._methods import LBP
    >>> photos = Dataset("photos", X=[], y=[], description="", image_shape=(160, 160), channels=3)
    >>> list(LBP().variants(photos))
    ['128px R 1,2,3', '128px R 1,2,3 grid 4']
    """

    name = "lbp"

    def variants(self, ds):
        largest = max(ds.image_shape)
        side = 32 if largest <= 32 else 64 if largest <= 64 else 128
        params = dict(radius=(1, 2, 3), n_points=8, image_size=side, n_jobs=self.settings.n_jobs)
        return {f"{side}px R 1,2,3": LBPTransformer(**params),
                f"{side}px R 1,2,3 grid 4": LBPTransformer(**params, grid=4)}


class Features(FeatureMethod):
    """``features``: frozen backbone features + standardised logistic regression; ``C`` and the layer are tuned.

    The layer variants are the final features and the pooled mid-level blocks.

    Examples
    --------
    >>> from sktransfer.benchmark import load_dataset
    >>> from sktransfer.benchmark._methods import Features, Settings
    >>> list(Features(Settings(backbone_size=32)).variants(load_dataset("digits")))
    ['final', 'mid [3, 4, 5]']
    """

    name = "features"
    default = {"logisticregression__C": 0.1}
    grid = {"logisticregression__C": [0.01, 0.1, 1.0]}

    def classifier(self):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    def variants(self, ds):
        s = self.settings
        final = PretrainedFeatureExtractor(s.backbone, layer=None, image_size=s.backbone_size, device=s.device,
                                           verbose=0)
        mid = mid_blocks(len(final.fit(ds.take([0])).backbone_.blocks))
        return {"final": final, f"mid {mid}": clone(final).set_params(layer=mid)}


class NetworkMethod(Method):
    """One fit of a network estimator per split, with ``finetune_params``; tuned only with ``finetune_grid``.

    A subclass sets :attr:`estimator` and may change :meth:`estimator_params`.
    The estimator's ``backbone``, ``random_state`` (the split's seed),
    ``device`` and ``verbose`` are the benchmark's. With :attr:`uses_pool`,
    the split's unlabelled pool is passed along, as ``y == -1``.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import FineTune, Settings
    >>> FineTune(Settings(image_size=64, finetune_params={"augment": "light"})).estimator_params()
    {'augment': 'light', 'image_size': 64}
    """

    network = True
    estimator = FineTunedClassifier

    def estimator_params(self):
        """The estimator's parameters but the benchmark's own: ``finetune_params``, and ``image_size`` when given."""
        params = dict(self.settings.finetune_params)
        if self.settings.image_size is not None:  # else the estimator's own "auto" size
            params.setdefault("image_size", self.settings.image_size)
        return params

    def grid(self):
        """The grid the inner search tries (``finetune_grid``), or None for one fit."""
        return self.settings.finetune_grid

    def run(self, ds, split):
        s = self.settings
        model = self.estimator(s.backbone, random_state=split.seed, device=s.device, verbose=0,
                               **self.estimator_params())
        y_train = ds.y[split.train]
        n_splits = _inner_splits(y_train, s.cv)
        X_train = ds.take(split.train)
        if self.uses_pool and len(split.pool):  # the rest of the pool, or the target's, marked -1
            X_train = ds.take(np.concatenate([split.train, split.pool]))
            dtype = np.int64 if np.asarray(y_train).dtype.kind in "iuf" else object
            y_train = np.concatenate([np.asarray(y_train, dtype=dtype), np.full(len(split.pool), -1, dtype=dtype)])
        tuned = bool(self.grid()) and n_splits >= 2
        t0 = time.perf_counter()
        inner_score, chosen = float("nan"), {}
        if tuned:
            # Folds stratified by class, unlabelled images (-1) spread evenly too; fold scores skip them.
            strata = np.array([str(v) for v in y_train])
            folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=split.seed)
            inner = list(folds.split(strata, strata))
            search = GridSearchCV(model, self.grid(), cv=inner, n_jobs=s.n_jobs, refit=True).fit(X_train, y_train)
            model, inner_score, chosen = search.best_estimator_, search.best_score_, search.best_params_
        else:
            model.fit(X_train, y_train)
        fit_time = time.perf_counter() - t0
        t1 = time.perf_counter()
        pred = model.predict(ds.take(split.test))
        predict_time = time.perf_counter() - t1
        y_test = ds.y[split.test]
        return dict(**scores(y_test, pred), **confusion(y_test, pred), fit_time_s=fit_time,
                    predict_time_s=predict_time, inner_cv_accuracy=float(inner_score), tuned=tuned,
                    chosen=describe_fit(model, chosen))


class FineTune(NetworkMethod):
    """``finetune``: :class:`~sktransfer.FineTunedClassifier` with the library's defaults (in domain mode, source only).

    Examples
    --------
    >>> from sktransfer.benchmark._methods import FineTune
    >>> FineTune().estimator.__name__, FineTune().estimator_params()
    ('FineTunedClassifier', {})
    """

    name = "finetune"


class Probe(NetworkMethod):
    """``probe``: the fine-tuned classifier's own linear probe (LP of LP-FT): ``finetune`` with ``trainable_blocks=0``.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import Probe, Settings
    >>> probe = Probe(Settings(finetune_params={"max_epochs": 2}, finetune_grid={"trainable_blocks": [0, "all"]}))
    >>> probe.estimator_params(), probe.grid()
    ({'max_epochs': 2, 'trainable_blocks': 0}, None)
    """

    name = "probe"

    def estimator_params(self):
        return {**super().estimator_params(), "trainable_blocks": 0}

    def grid(self):
        return None  # finetune_grid tunes the fine-tuning; trainable_blocks=0 is this method itself


class Scratch(NetworkMethod):
    """``scratch``: the same network and recipe from random weights (``weights=None``): what the weights buy.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import Scratch, Settings
    >>> Scratch(Settings(finetune_params={"max_epochs": 2})).estimator_params()
    {'max_epochs': 2, 'weights': None}
    """

    name = "scratch"

    def estimator_params(self):
        return {**super().estimator_params(), "weights": None}


class FixMatch(NetworkMethod):
    """``fixmatch``: fine-tuning on the labelled images plus the split's unlabelled pool (FixMatch).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark._methods import FixMatch
    >>> from sktransfer.benchmark._splits import Split
    >>> FixMatch().n_unlabeled(Split(0, 1, np.arange(2), np.arange(2, 4), pool=np.arange(4, 9)))
    5
    """

    name = "fixmatch"
    uses_pool = True


class DomainAdaptation(NetworkMethod):
    """Adapt to the target domain with :class:`~sktransfer.DomainAdaptiveClassifier` and its :attr:`adaptation`.

    It takes the ``finetune_params`` but the semi-supervised ones, and learns
    from the target's unlabelled pool.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import DANN, Settings
    >>> DANN(Settings(finetune_params={"max_epochs": 1, "unlabeled_ratio": 2.0})).estimator_params()
    {'max_epochs': 1, 'method': 'dann'}
    """

    estimator = DomainAdaptiveClassifier
    uses_pool = True
    needs_target = True
    #: DomainAdaptiveClassifier's ``method``.
    adaptation = ""

    def estimator_params(self):
        params = {k: v for k, v in super().estimator_params().items() if k not in SEMI_SUPERVISED_PARAMS}
        return {**params, "method": self.adaptation}


class AdaBN(DomainAdaptation):
    """``adabn``: no adaptation loss (``method="none"``), only the target's BatchNorm statistics and augmentation.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import AdaBN
    >>> AdaBN().estimator_params()
    {'method': 'none'}
    """

    name = "adabn"
    adaptation = "none"


class DANN(DomainAdaptation):
    """``dann``: domain-adversarial training, a domain classifier behind a gradient reversal (Ganin & Lempitsky).

    Examples
    --------
    >>> from sktransfer.benchmark._methods import DANN
    >>> DANN.estimator.__name__, DANN.uses_pool, DANN.needs_target
    ('DomainAdaptiveClassifier', True, True)
    """

    name = "dann"
    adaptation = "dann"


class CORAL(DomainAdaptation):
    """``coral``: Deep CORAL, the source's and target's feature covariances aligned (Sun & Saenko).

    Examples
    --------
    >>> from sktransfer.benchmark._methods import CORAL, Settings
    >>> CORAL(Settings(image_size=64)).estimator_params()
    {'image_size': 64, 'method': 'coral'}
    """

    name = "coral"
    adaptation = "coral"


class SkadaMethod(Method):
    """skada's shallow domain adaptation on the library's frozen features: ``make_da_pipeline`` of the features
    (standardised), skada's :meth:`adapter` and a logistic regression.

    The features are ``features``' final ones (``layer=None``), computed once
    for the source, the target's unlabelled pool and its test images; the
    adapter is fitted on the source and the pool (``sample_domain`` 1 and
    -1), the classifier on the adapted source. Nothing is tuned: the target
    has no labels to tune on.

    Examples
    --------
    >>> from sktransfer.benchmark._methods import SkadaCORAL
    >>> SkadaCORAL.name, SkadaCORAL.needs_target, SkadaCORAL.requires
    ('skada-coral', True, 'skada')
    """

    uses_pool = True
    needs_target = True
    requires = "skada"
    #: The logistic regression's ``C``: ``features``' default.
    C = 0.1

    def adapter(self, n_max):
        """skada's adapter, unfitted; ``n_max``: the fewest images of a domain, or features, if fewer."""
        raise NotImplementedError

    def prepare(self, ds):
        s = self.settings
        extractor = PretrainedFeatureExtractor(s.backbone, layer=None, image_size=s.backbone_size, device=s.device,
                                               verbose=0)
        s.log(f"computing {self.name}'s frozen features for {len(ds)} images ...")
        t0 = time.perf_counter()
        self.features = extractor.fit(ds.X).transform(ds.X)
        self.per_image = (time.perf_counter() - t0) / len(ds)

    def run(self, ds, split):
        from skada import make_da_pipeline  # optional: only this method needs it

        train = np.concatenate([split.train, split.pool])
        domain = np.concatenate([np.ones(len(split.train), int), -np.ones(len(split.pool), int)])
        dtype = np.int64 if np.asarray(ds.y).dtype.kind in "iuf" else object  # skada's mark of a target: -1
        y_train = np.concatenate([np.asarray(ds.y[split.train], dtype=dtype), np.full(len(split.pool), -1, dtype)])
        n_max = min(len(split.train), len(split.pool), self.features.shape[1])
        # skada routes sample_domain by scikit-learn's metadata routing: on here, whatever the process's setting.
        with sklearn.config_context(enable_metadata_routing=True):
            model = make_da_pipeline(StandardScaler(), self.adapter(n_max),
                                     LogisticRegression(C=self.C, max_iter=2000))
            t0 = time.perf_counter()
            model.fit(self.features[train], y_train, sample_domain=domain)
            fit_time = time.perf_counter() - t0 + self.per_image * len(train)
            t1 = time.perf_counter()
            pred = model.predict(self.features[split.test], sample_domain=-np.ones(len(split.test), int))
            predict_time = time.perf_counter() - t1 + self.per_image * len(split.test)
        y_test = ds.y[split.test]
        return dict(**scores(y_test, pred), **confusion(y_test, pred), fit_time_s=fit_time,
                    predict_time_s=predict_time, inner_cv_accuracy=float("nan"), tuned=False, chosen=f"C={self.C:g}")


class SkadaCORAL(SkadaMethod):
    """``skada-coral``: skada's ``CORALAdapter`` (Sun et al., AAAI 2016): the source's covariance recoloured as
    the target's."""

    name = "skada-coral"

    def adapter(self, n_max):
        from skada import CORALAdapter

        return CORALAdapter()


class SkadaSubspaceAlignment(SkadaMethod):
    """``skada-sa``: skada's ``SubspaceAlignmentAdapter`` (Fernando et al., ICCV 2013), 64 principal components.

    64 (or fewer, for fewer images): the features have hundreds of dimensions
    and the full width would align nothing.
    """

    name = "skada-sa"

    def adapter(self, n_max):
        from skada import SubspaceAlignmentAdapter

        return SubspaceAlignmentAdapter(n_components=min(64, n_max), random_state=0)

