"""Run the benchmark: every method on the same splits, at several numbers of labels.

Protocol
--------
For each seed, a stratified test set is drawn once (``test_size`` of every
class) and stays fixed for every method and every training size. The rest is
the training pool; its images are shuffled once per class, and the training
set for ``n`` labels per class is the first ``n`` images of each class, so
smaller training sets are nested in larger ones. ``"all"`` is the whole pool.

Each method's hyperparameters are chosen by stratified inner cross-validation
on the training set only (never the test set):

- ``pixels``: resized raw pixels + RBF SVM; ``C`` is tuned.
- ``hog``: HOG + RBF SVM; ``C`` and the HOG cell/block variant are tuned.
- ``features``: pretrained backbone features + standardised logistic
  regression; ``C`` and the layer variant (final features, or pooled
  mid-level blocks) are tuned.
- ``finetune``: :class:`~sktransfer.FineTunedClassifier` with the library's
  defaults (LP-FT: a converged linear probe on the blocks it picks, then the
  whole network fine-tuned from it with augmentation, for the estimator's
  own step budget; early stopping only where classes have images to spare).
  Inner cross-validation of its hyperparameters is opt-in
  (``finetune_grid``, ``--tune-finetune``) because it multiplies the most
  expensive method's cost by (folds x candidates) + 1.
- ``scratch``: the same network and recipe from random weights
  (``weights=None``): what the pretrained weights buy.

With 1 label per class there is nothing to cross-validate on: defaults are
used and the row says ``tuned=False`` (as does a ``finetune`` or ``scratch``
row without ``finetune_grid``).

Features that do not depend on labels (pixels, HOG, frozen-backbone features)
are computed once per dataset and variant, then sliced per run; no label
information flows into them, so this is not leakage, only saved time. Their
cost is still charged to each run: ``fit_time_s`` includes the per-image
feature time of every variant compared by the inner search times the number
of training images, ``predict_time_s`` the chosen variant's per-image time
times the number of test images.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..dask import dask_backend
from .datasets import load_dataset
from .report import confusion, format_table, plot_learning_curve, summarize, write_csv, write_evaluation, write_json

__all__ = ["BenchmarkResult", "DEFAULTS", "FINETUNE_GRID", "METHODS", "run_benchmark", "scores"]

METHODS = ("pixels", "hog", "features", "finetune", "scratch", "fixmatch", "adabn", "dann", "coral")

#: Methods that fine-tune a network (one FineTunedClassifier fit per run).
NETWORK_METHODS = ("finetune", "scratch", "fixmatch", "adabn", "dann", "coral")

#: Methods that also learn from unlabelled images: the rest of the training pool
#: (``unlabeled=True``) or the target domain's pool (``target=...``).
UNLABELED_METHODS = ("fixmatch", "adabn", "dann", "coral")

#: Domain adaptation (DomainAdaptiveClassifier's methods): they need a target domain. "adabn" is its
#: method="none": no adaptation loss, only the target's BatchNorm statistics and the "domain" augmentation.
DOMAIN_METHODS = ("adabn", "dann", "coral")

#: Defaults of ``sktransfer benchmark`` (digits, all five methods), sized for a
#: few minutes on a 2-core CPU; see docs/benchmarking.md.
DEFAULTS = dict(
    methods=("pixels", "hog", "features", "finetune", "scratch"),
    labels_per_class=(5, 10, 50, "all"),
    n_seeds=3,
    test_size=0.3,
    backbone="efficientnet_lite0",
    image_size=None,
    cv=3,
)

#: The grid ``--tune-finetune`` searches: the probe alone, or the whole network fine-tuned from it.
FINETUNE_GRID = {"trainable_blocks": [0, "all"]}

_SVM_GRID = {"C": [0.1, 1.0, 10.0, 100.0]}
_LOGREG_GRID = {"logisticregression__C": [0.01, 0.1, 1.0]}


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` returns.

    Attributes
    ----------
    runs : list of dict
        One row per (method, seed, labels per class): accuracy and macro
        precision, recall and F1, times, sizes, chosen hyperparameters. The
        same rows as the ``*_runs.csv`` file.
    summary : list of dict
        One row per (method, labels per class): mean and std over seeds of
        each score (``accuracy_mean``, ``f1_macro_std``...), mean fit and
        predict times.
    config : dict
        The settings used (after defaults were resolved).
    wall_time_s : float
        Seconds the whole benchmark took, loading and feature extraction included.
    files : dict of str to pathlib.Path
        ``"runs_csv"``, ``"summary_csv"``, ``"json"``, ``"per_class_csv"``, ``"report_txt"`` and, when
        plotted, ``"plot"`` and ``"confusion_<method>"`` (for the largest label count).
    """

    runs: list
    summary: list
    config: dict
    wall_time_s: float
    files: dict = field(default_factory=dict)

    def to_frame(self, which="runs"):
        """The runs (or ``which="summary"``) as a pandas DataFrame; needs pandas."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_frame() needs pandas: pip install pandas. The rows are in .runs and .summary.") from exc
        if which not in ("runs", "summary"):
            raise ValueError(f"which must be 'runs' or 'summary'; got {which!r}.")
        return pd.DataFrame(self.runs if which == "runs" else self.summary)

    def __str__(self):
        return format_table(self.summary, self.config, self.wall_time_s)


def run_benchmark(
    dataset="digits",
    *,
    methods=DEFAULTS["methods"],
    labels_per_class=DEFAULTS["labels_per_class"],
    n_seeds=DEFAULTS["n_seeds"],
    test_size=DEFAULTS["test_size"],
    backbone=DEFAULTS["backbone"],
    image_size=DEFAULTS["image_size"],
    finetune_params=None,
    finetune_grid=None,
    cv=DEFAULTS["cv"],
    device="auto",
    n_jobs=1,
    input_shape=None,
    data_dir=None,
    output_dir="benchmark_results",
    plot=True,
    verbose=1,
    stream=None,
    scheduler=None,
    unlabeled=False,
    target=None,
):
    """Compare classical baselines with transfer learning on one dataset (or from one domain to another).

    Parameters
    ----------
    dataset : str, os.PathLike or Dataset, default="digits"
        ``"digits"``, ``"mnist"`` (needs ``sktransfer[data]``),
        ``"fashion-mnist"`` (the idx files, see ``data_dir``), a folder with
        one sub-folder of images per class, or an ``.npz`` with ``X`` and ``y``.
    methods : sequence of str, default=("pixels", "hog", "features", "finetune", "scratch")
        Which methods to compare; see :data:`METHODS`. ``"fixmatch"``
        fine-tunes with the labelled images plus unlabelled ones
        (:class:`~sktransfer.FineTunedClassifier`'s FixMatch);
        ``"adabn"``, ``"dann"`` and ``"coral"`` adapt to the ``target`` domain
        (:class:`~sktransfer.DomainAdaptiveClassifier`; ``"adabn"`` is its
        ``method="none"``: the target's BatchNorm statistics, no adaptation loss).
    labels_per_class : sequence of int or "all", default=(5, 10, 50, "all")
        Training sizes of the learning curve, in labelled images per class.
        Sizes at least as large as the training pool are the same as "all".
    n_seeds : int, default=3
        Repetitions (seeds 0 .. n_seeds-1), each with its own test split.
    test_size : float, default=0.3
        Fraction of every class held out as the test set.
    backbone : str, default="efficientnet_lite0"
        Backbone of the ``features``, ``finetune`` and ``scratch`` methods.
    image_size : int or None, default=None
        Side images are resized to for the backbone. None: for ``features``,
        the image side rounded up to a multiple of 32, between 32 and 224
        (32 for digits and MNIST, the rule of ``image_size="auto"``); ``finetune``
        and ``scratch`` are then left to the estimator's own
        ``image_size="auto"``. An int is passed to all three (an
        ``image_size`` in ``finetune_params`` wins for the last two).
    finetune_params : dict or None, default=None
        Parameters of :class:`~sktransfer.FineTunedClassifier` for the
        ``finetune`` and ``scratch`` runs, e.g. ``{"max_epochs": 10}``. None
        uses the estimator's defaults, which own the training budget. Unknown
        names are an error before any work; ``backbone``, ``random_state``,
        ``device`` and ``verbose`` are the benchmark's.
    finetune_grid : dict or None, default=None
        FineTunedClassifier parameters to choose by inner cross-validation,
        e.g. :data:`FINETUNE_GRID` (``{"trainable_blocks": [0, "all"]}``).
        None fine-tunes once with the estimator's defaults: each candidate
        costs ``cv`` more fine-tuning runs.
    cv : int, default=3
        Inner cross-validation folds (fewer when a class has fewer images).
    data_dir : str, os.PathLike or None, default=None
        Where ``"fashion-mnist"``'s idx files are, when not in the places
        :func:`~sktransfer.benchmark.load_dataset` searches.
    device : str, default="auto"
        Torch device for the backbone methods.
    n_jobs : int, default=1
        Parallel jobs for HOG and the inner grid searches.
    input_shape : tuple of int, default=None
        Image shape for an ``.npz`` holding flattened images.
    output_dir : str or os.PathLike or None, default="benchmark_results"
        Where the results files and plot go (created when missing); None
        writes nothing. Checked before any work: an existing file or a
        folder that cannot be written to is a ``ValueError`` at once, not
        after the runs.
    plot : bool, default=True
        Write the PNG learning curve (needs matplotlib, ``sktransfer[plot]``).
    verbose : int, default=1
        1 prints progress (method, seed, size, elapsed time) to ``stream``.
    stream : file-like, default=None
        Where progress goes; ``sys.stderr`` when None.
    scheduler : str or None, default=None
        Run the inner grid searches (and HOG) on a Dask cluster: a scheduler
        address (``"tcp://host:8786"``) or ``"local"`` for a
        ``LocalCluster`` of one single-threaded worker process per core. The
        searches then use every worker (``n_jobs=-1``); the runs without a
        search (``finetune``, ``scratch`` without ``finetune_grid``) stay in
        this process. Needs ``sktransfer[dask]``; see docs/scaling.md.
    unlabeled : bool, default=False
        Add the ``"fixmatch"`` method: each of its runs gets the labelled
        training subset plus the rest of the training pool, unlabelled
        (``y == -1``). The test set is never among them.
    target : str, os.PathLike, Dataset or None, default=None
        Domain mode: ``dataset`` is the labelled *source*, ``target`` (any
        form ``dataset`` takes, e.g. ``"mnist-m"``) the domain tested on. The
        test set is held out from the target; its remaining images are the
        unlabelled target pool that ``"adabn"``, ``"dann"``, ``"coral"`` and
        ``"fixmatch"`` learn from; every method trains on labelled source
        images only. The default methods become ``pixels, hog, features,
        finetune`` (the source only), ``adabn``, ``dann`` and ``coral``. Two datasets
        with the same labels in the same order (``mnist`` and ``mnist-m``)
        get the same split, so no test digit is a training digit in the
        other domain.

    Returns
    -------
    result : BenchmarkResult
        Rows per run and summary rows as lists of dicts (so the return type
        never depends on what is installed); ``result.to_frame()`` gives a
        pandas DataFrame, ``print(result)`` the table.

    Examples
    --------
    >>> from sktransfer.benchmark import run_benchmark
    >>> result = run_benchmark("digits", methods=["pixels"], labels_per_class=[5],
    ...                        n_seeds=1, output_dir=None, verbose=0)
    >>> row = result.summary[0]
    >>> row["method"], row["labels_per_class"], row["n_train"], row["accuracy_mean"] > 0.7
    ('pixels', 5, 50.0, True)
    """
    start = time.perf_counter()
    log = _Logger(verbose, stream, start)
    if target is not None and methods is DEFAULTS["methods"]:
        methods = ("pixels", "hog", "features", "finetune", *DOMAIN_METHODS)
    methods = _check_methods(list(methods) + (["fixmatch"] if unlabeled else []))
    if target is None and set(methods) & set(DOMAIN_METHODS):
        raise ValueError(f"the {' and '.join(m for m in DOMAIN_METHODS if m in methods)} method(s) adapt to a target "
                         "domain: give one with target= (--target DATASET), or leave them out.")
    sizes = _check_sizes(labels_per_class)
    _check_int(n_seeds, "n_seeds", 1)
    _check_int(cv, "cv", 2)
    if n_jobs is not None and (not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None, a positive int, or -1 for all cores; got {n_jobs!r}.")
    if finetune_params is not None and not isinstance(finetune_params, dict):
        raise ValueError(f"finetune_params must be a dict of FineTunedClassifier parameters; got {finetune_params!r}.")
    finetune_params = dict(finetune_params or {})
    if finetune_grid is not None and not isinstance(finetune_grid, (dict, list)):
        raise ValueError(f"finetune_grid must be a dict of parameter lists (or None); got {finetune_grid!r}.")
    if image_size is not None:
        _check_int(image_size, "image_size", 8)
    if not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must be a float strictly between 0 and 1; got {test_size!r}.")
    finetuned_cls = _finetune_class() if set(NETWORK_METHODS) & set(methods) else None
    if finetuned_cls is not None:
        _check_finetune_params(finetuned_cls, finetune_params)
    _check_output_dir(output_dir)  # before any work: finding out after an hour of runs loses them

    # With a Dask scheduler, joblib sends the inner searches' fits (and HOG's batches) to its workers.
    with dask_backend(scheduler, log) as on_cluster:
        if on_cluster:
            n_jobs = -1
        ds = load_dataset(dataset, input_shape=input_shape, data_dir=data_dir)
        n_source = None
        if target is not None:  # one dataset: the source's images, then the target's
            ds, n_source = combine_domains(ds, load_dataset(target, input_shape=input_shape))
        classes = np.unique(ds.y)
        backbone_size = image_size
        if backbone_size is None:
            from .._validation import auto_image_size  # the estimator's own rule, for features too

            backbone_size = auto_image_size(ds.image_shape)[0]
        config = dict(
            dataset=ds.name, description=ds.description, n_images=len(ds), n_classes=len(classes),
            methods=list(methods), labels_per_class=list(sizes), n_seeds=n_seeds, test_size=test_size,
            backbone=backbone, image_size=backbone_size, finetune_params=finetune_params,
            finetune_grid=finetune_grid, cv=cv, device=device,
            n_jobs=n_jobs, scheduler=scheduler, unlabeled=bool(unlabeled),
            target=None if target is None else ds.name.split("-to-", 1)[1], environment=_environment(),
        )
        log(f"dataset: {ds.description}")
        log(f"methods: {', '.join(methods)} | labels/class: {', '.join(map(str, sizes))} | seeds: {n_seeds} | "
            f"backbone: {backbone} @ {backbone_size}px (features)")

        files = _output_files(output_dir, ds.name, plot)  # the file names need the dataset's name

        # Label-free features, once per dataset and variant.
        features = {}
        for method in methods:
            if method in NETWORK_METHODS:
                continue
            features[method] = {}
            for label, transformer in _variants(method, ds, backbone, backbone_size, device, n_jobs, log).items():
                log(f"computing {method} ({label}) for {len(ds)} images ...")
                t0 = time.perf_counter()
                F = transformer.fit(ds.X).transform(ds.X)
                elapsed = time.perf_counter() - t0
                features[method][label] = (F, elapsed / len(ds))
                log(f"  {method} ({label}): {F.shape[1]} features in {elapsed:.1f}s")

        runs = []
        for seed in range(n_seeds):
            test, per_class, unlabeled_pool = _domain_split(ds, n_source, test_size, seed)
            for size in _resolve_sizes(sizes, per_class):
                train = training_subset(per_class, size)
                pool = unlabeled_pool if target is not None else np.setdiff1d(training_subset(per_class, "all"),
                                                                              train)
                for method in methods:
                    where = f"seed {seed + 1}/{n_seeds} | {size} labels/class (n={len(train)}) | {method}"
                    log(f"{where} ...")
                    if method in NETWORK_METHODS:
                        params = dict(finetune_params)
                        if image_size is not None:  # else the estimator's own "auto" size
                            params.setdefault("image_size", image_size)
                        if method == "scratch":  # the same network and recipe, random weights
                            params["weights"] = None
                        cls, unlabeled_idx = finetuned_cls, None
                        if method in UNLABELED_METHODS:
                            unlabeled_idx = pool
                        if method in DOMAIN_METHODS:
                            cls, params = _domain_class(finetuned_cls, method, params)
                        row = _run_finetune(cls, ds, train, test, seed, backbone, params, device,
                                            finetune_grid, cv, n_jobs, unlabeled_idx)
                    else:
                        row = _run_features(method, features[method], ds.y, train, test, seed, cv, n_jobs)
                    n_unlabeled = len(pool) if method in UNLABELED_METHODS else 0
                    row = dict(dataset=ds.name, method=method, seed=seed, labels_per_class=size,
                               n_train=len(train), n_unlabeled=n_unlabeled, n_test=len(test), **row)
                    runs.append(row)
                    log(f"{where}: accuracy {row['accuracy']:.3f}, macro F1 {row['f1_macro']:.3f}, "
                        f"fit {row['fit_time_s']:.2f}s, "
                        f"predict {row['predict_time_s']:.2f}s [{row['chosen']}]")
                    if files:
                        write_csv(runs, files["runs_csv"])  # partial results survive an interrupt

        summary = summarize(runs, methods, len(classes))
        if files:
            write_csv(summary, files["summary_csv"])
            if "plot" in files and plot_learning_curve(summary, files["plot"], config) is None:
                log('matplotlib is not installed: no plot written (pip install "sktransfer[plot]")')
                del files["plot"]
            files.update(write_evaluation(runs, files, methods, plot="plot" in files))
        wall = time.perf_counter() - start
        config["wall_time_s"] = round(wall, 2)
        result = BenchmarkResult(runs, summary, config, wall, files)
        if files:
            write_json(result, files["json"])
        log(f"done in {wall:.1f}s")
        return result


# --------------------------------------------------------------------------- methods


def make_split(y, test_size, seed):
    """The test set of a seed and the shuffled training pool of each class.

    Returns ``test`` (indices, stratified, ``test_size`` of every class) and
    ``per_class``: for each class in ``np.unique(y)`` order, that class's
    remaining indices in a seed-determined random order.
    """
    y = np.asarray(y)
    pool, test = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    rng = np.random.RandomState(seed)
    return np.sort(test), [rng.permutation(pool[y[pool] == c]) for c in np.unique(y)]


def combine_domains(source, target):
    """One :class:`Dataset` of the source's images followed by the target's, and the number of source images.

    Gray images become RGB when the other domain is in colour; arrays of one
    size are stacked, else the images are listed.
    """
    from .datasets import Dataset

    def images(ds, channels):
        X = ds.X
        if isinstance(X, np.ndarray):
            X = X.astype(np.float32) / 255.0 if X.dtype == np.uint8 else X.astype(np.float32)
            if channels == 3 and X.ndim == 3:
                X = np.repeat(X[..., None], 3, axis=-1)
        return X

    channels = max(source.channels, target.channels)
    X_s, X_t = images(source, channels), images(target, channels)
    if isinstance(X_s, np.ndarray) and isinstance(X_t, np.ndarray) and X_s.shape[1:] == X_t.shape[1:]:
        X = np.concatenate([X_s, X_t])
    else:
        X = list(X_s) + list(X_t)
    labels = np.concatenate([np.asarray(source.y, dtype=object), np.asarray(target.y, dtype=object)])
    if labels.dtype == object and all(isinstance(v, (int, np.integer)) for v in labels):
        labels = labels.astype(np.int64)
    unknown = np.setdiff1d(np.unique(target.y), np.unique(source.y))
    if len(unknown):
        raise ValueError(f"the target domain has classes the source lacks ({unknown.tolist()[:5]}): a classifier "
                         "trained on the source cannot predict them. Use datasets with the same classes.")
    desc = f"{source.description} -> {target.description}"
    combined = Dataset(f"{source.name}-to-{target.name}", X, labels, desc, source.image_shape, channels)
    return combined, len(source)


def _domain_split(ds, n_source, test_size, seed):
    """``(test, per_class, unlabeled_pool)``: without a target, :func:`make_split` (and no pool).

    In domain mode the test set and the unlabelled pool are the target's
    (split with :func:`make_split` on the target's labels), the labelled pool
    the source's; two domains with the same labels in the same order get the
    same split, so no test image is a training image of the other domain.
    """
    if n_source is None:
        test, per_class = make_split(ds.y, test_size, seed)
        return test, per_class, None
    source_y, target_y = ds.y[:n_source], ds.y[n_source:]
    test, target_pool = make_split(target_y, test_size, seed)
    source_test, per_class = make_split(source_y, test_size, seed)
    return test + n_source, per_class, np.sort(np.concatenate(target_pool)) + n_source


def training_subset(per_class, size):
    """The first ``size`` images of every class's pool ("all": the whole pool); nested across sizes."""
    take = None if size == "all" else size
    return np.concatenate([idx[:take] for idx in per_class])


def _variants(method, ds, backbone, backbone_size, device, n_jobs, log):
    """The feature transformers a method's inner search chooses among."""
    from ..estimators import HOGTransformer, PixelTransformer

    color = "rgb" if ds.channels == 3 else "gray"
    h, w = ds.image_shape
    if method == "pixels":
        scale = min(1.0, 32 / max(h, w))  # at most 32 pixels a side: an SVM on 150k pixels helps no one
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        return {f"{size[0]}x{size[1]}": PixelTransformer(image_size=size, color=color)}
    if method == "hog":
        side = 32 if max(h, w) <= 32 else 64
        return {
            f"{side}px cell {side // 8} block 3": HOGTransformer(
                pixels_per_cell=side // 8, cells_per_block=3, image_size=side, color=color, n_jobs=n_jobs),
            f"{side}px cell {side // 4} block 2": HOGTransformer(
                pixels_per_cell=side // 4, cells_per_block=2, image_size=side, color=color, n_jobs=n_jobs),
        }
    if method == "features":
        from ..estimators import PretrainedFeatureExtractor

        from ..backbones._contract import mid_blocks

        final = PretrainedFeatureExtractor(backbone, layer=None, image_size=backbone_size, device=device, verbose=0)
        mid = mid_blocks(len(final.fit(ds.take([0])).backbone_.blocks))
        return {"final": final, f"mid {mid}": clone(final).set_params(layer=mid)}
    raise AssertionError(method)


def _classifier(method):
    if method == "features":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return clf, _LOGREG_GRID, {"logisticregression__C": 0.1}
    return SVC(kernel="rbf", gamma="scale"), _SVM_GRID, {"C": 10.0}


def _run_features(method, variants, y, train, test, seed, cv, n_jobs):
    clf, grid, default = _classifier(method)
    y_train = y[train]
    n_splits = min(cv, int(np.unique(y_train, return_counts=True)[1].min()))
    t0 = time.perf_counter()
    feature_cost = 0.0
    if n_splits >= 2:
        inner = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        best = None
        for label, (F, per_image) in variants.items():
            feature_cost += per_image * len(train)
            search = GridSearchCV(clone(clf), grid, cv=inner, n_jobs=n_jobs, refit=False)
            search.fit(F[train], y_train)
            if best is None or search.best_score_ > best[0]:
                best = (search.best_score_, label, search.best_params_)
        inner_score, chosen, params = best
    else:
        chosen, params, inner_score = next(iter(variants)), default, float("nan")
        feature_cost += variants[chosen][1] * len(train)
    F, per_image = variants[chosen]
    model = clone(clf).set_params(**params).fit(F[train], y_train)
    fit_time = time.perf_counter() - t0 + feature_cost
    t1 = time.perf_counter()
    pred = model.predict(F[test])
    predict_time = time.perf_counter() - t1 + per_image * len(test)
    shown = ", ".join(f"{k.split('__')[-1]}={v:g}" for k, v in params.items())
    return dict(
        **scores(y[test], pred),
        **confusion(y[test], pred),
        fit_time_s=fit_time,
        predict_time_s=predict_time,
        inner_cv_accuracy=float(inner_score),
        tuned=n_splits >= 2,
        chosen=f"{chosen}; {shown}" if len(variants) > 1 else shown,
    )


def scores(y_true, y_pred):
    """Accuracy and macro-averaged precision, recall and F1 (every class counts the same).

    Examples
    --------
    >>> from sktransfer.benchmark.runner import scores
    >>> {k: round(v, 3) for k, v in scores([0, 0, 1, 1], [0, 0, 0, 1]).items()}
    {'accuracy': 0.75, 'precision_macro': 0.833, 'recall_macro': 0.75, 'f1_macro': 0.733}
    """
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return dict(accuracy=float(accuracy_score(y_true, y_pred)), precision_macro=float(precision),
                recall_macro=float(recall), f1_macro=float(f1))


def _run_finetune(cls, ds, train, test, seed, backbone, params, device, grid, cv, n_jobs, unlabeled=None):
    model = cls(backbone, random_state=seed, device=device, verbose=0, **params)
    y_train = ds.y[train]
    n_splits = min(cv, int(np.unique(y_train, return_counts=True)[1].min()))
    X_train = ds.take(train)
    if unlabeled is not None and len(unlabeled):  # the rest of the pool, or the target's, marked -1
        X_train = ds.take(np.concatenate([train, unlabeled]))
        numeric = np.asarray(y_train).dtype.kind in "iuf"
        y_train = np.concatenate([np.asarray(y_train, dtype=np.int64 if numeric else object),
                                  np.full(len(unlabeled), -1, dtype=np.int64 if numeric else object)])
    tuned = bool(grid) and n_splits >= 2
    t0 = time.perf_counter()
    inner_score, chosen = float("nan"), {}
    if tuned:
        # Folds stratified by class, unlabelled images (-1) spread evenly too; fold scores skip them.
        strata = np.array([str(v) for v in y_train])
        inner = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(strata, strata))
        search = GridSearchCV(model, grid, cv=inner, n_jobs=n_jobs, refit=True).fit(X_train, y_train)
        model, inner_score, chosen = search.best_estimator_, search.best_score_, search.best_params_
    else:
        model.fit(X_train, y_train)
    fit_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = model.predict(ds.take(test))
    predict_time = time.perf_counter() - t1
    return dict(
        **scores(ds.y[test], pred),
        **confusion(ds.y[test], pred),
        fit_time_s=fit_time,
        predict_time_s=predict_time,
        inner_cv_accuracy=float(inner_score),
        tuned=tuned,
        chosen=_describe_fit(model, chosen),
    )


def _describe_fit(model, chosen):
    """The ``chosen`` cell of a fine-tuning run: input size, blocks read, budget actually trained.

    The estimator picks these itself, so the row shows what it picked. Every
    fitted attribute is read with a fallback, so a model without one (a
    stand-in in the tests, a classifier from before these attributes) costs
    a word of the table, not the benchmark.
    """
    parts = []
    size = getattr(model, "image_size_", None)
    if size is not None:
        size = tuple(np.atleast_1d(size))
        parts.append(f"{size[0]}px" if len(set(size)) == 1 else "x".join(map(str, size)) + "px")
    if hasattr(model, "layers_"):
        layers = model.layers_
        if layers is None:
            parts.append("final")
        else:
            parts.append(f"blocks {list(layers)}" if isinstance(layers, (list, tuple)) else f"block {layers}")
    steps = getattr(model, "n_steps_", None)
    history = getattr(model, "history_", None)
    if steps == 0:
        parts.append("probe only")  # trainable_blocks=0: the converged probe is the model
    elif steps is not None:
        epochs = f" ({_count(len(history), 'epoch')})" if history is not None else ""
        parts.append(_count(steps, "step") + epochs)
    elif history is not None:
        parts.append(_count(len(history), "epoch"))
    parts += [f"{k}={v}" for k, v in chosen.items()]
    return ", ".join(parts)


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _check_finetune_params(cls, params):
    """Unknown FineTunedClassifier parameters fail before any work, with the valid names."""
    reserved = {"backbone", "random_state", "device", "verbose"} & set(params)
    if reserved:
        raise ValueError(
            f"finetune_params may not set {', '.join(sorted(reserved))}: the benchmark sets them (backbone "
            "with --backbone, device with --device, random_state to each seed, verbose to 0)."
        )
    valid = set(cls().get_params())
    unknown = [k for k in params if k not in valid and "__" not in k]
    if unknown:
        raise ValueError(
            f"Unknown FineTunedClassifier parameter(s) {', '.join(map(repr, unknown))} in finetune_params; "
            f"valid ones: {', '.join(sorted(valid))}."
        )


def _domain_class(finetuned_cls, method, params):
    """DomainAdaptiveClassifier and the ``finetune_params`` it takes (not the semi-supervised ones)."""
    from ..estimators import DomainAdaptiveClassifier
    from ..estimators import SEMI_SUPERVISED_PARAMS

    params = {k: v for k, v in params.items() if k not in SEMI_SUPERVISED_PARAMS}
    return DomainAdaptiveClassifier, {**params, "method": "none" if method == "adabn" else method}


def _finetune_class():
    try:
        from ..estimators import FineTunedClassifier
    except ImportError as exc:
        raise ValueError(
            f"The 'finetune' and 'scratch' methods need sktransfer.FineTunedClassifier, which could not be "
            f"imported ({exc}). Leave them out with --methods pixels hog features."
        ) from exc
    return FineTunedClassifier


# --------------------------------------------------------------------------- checks and helpers


def _check_methods(methods):
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METHODS)}.")
    if not methods:
        raise ValueError(f"No methods to compare; choose one or more of {', '.join(METHODS)}.")
    return methods


def _check_sizes(sizes):
    if isinstance(sizes, (str, Integral)):
        sizes = [sizes]
    out = []
    for size in sizes:
        if isinstance(size, str) and size.strip().lower() == "all":
            out.append("all")
        elif isinstance(size, str) and size.strip().isdigit():
            out.append(int(size))
        elif isinstance(size, Integral) and not isinstance(size, bool):
            out.append(int(size))
        else:
            raise ValueError(f"labels_per_class must hold positive ints or 'all'; got {size!r}.")
        if out[-1] != "all" and out[-1] < 1:
            raise ValueError(f"labels_per_class must hold positive ints or 'all'; got {size!r}.")
    if not out:
        raise ValueError("labels_per_class is empty; give at least one size, e.g. 10 or 'all'.")
    ints = sorted({s for s in out if s != "all"})
    return ints + (["all"] if "all" in out else [])


def _resolve_sizes(sizes, per_class):
    """Sizes that reach the whole pool of every class are 'all'; duplicates go."""
    largest = max(len(idx) for idx in per_class)
    resolved = ["all" if s == "all" or s >= largest else s for s in sizes]
    return list(dict.fromkeys(resolved))


def _check_int(value, name, low):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")


def _check_output_dir(output_dir):
    """Raise a ValueError naming the fix when results could not be written to ``output_dir``.

    Creates the folder, as writing the results would, writes and removes a
    probe file in it, then removes the folders it created: permissions,
    read-only file systems and a file in the way all show up here, before any
    work, and nothing is left behind.
    """
    if output_dir is None:
        return
    out = Path(output_dir)
    fix = ("Pass a folder you can write to (it is created when missing), e.g. --output-dir benchmark_results "
           "(output_dir= in Python; None writes nothing).")
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"output_dir (--output-dir) {str(out)!r} is an existing file, not a folder: the results cannot be "
            f"written there. {fix}"
        )
    missing = [p for p in (out, *out.parents) if not p.exists()]  # what mkdir creates, deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        for folder in missing:  # leave no trace: a run that fails later must not leave empty folders
            folder.rmdir()
    except OSError as exc:
        raise ValueError(
            f"output_dir (--output-dir) {str(out)!r} cannot be written to ({type(exc).__name__}: "
            f"{exc.strerror or exc}). {fix}"
        ) from exc


def _output_files(output_dir, name, plot):
    if output_dir is None:
        return {}
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "runs_csv": out / f"{name}_runs.csv",
        "summary_csv": out / f"{name}_summary.csv",
        "json": out / f"{name}_results.json",
        "per_class_csv": out / f"{name}_per_class.csv",
        "report_txt": out / f"{name}_classification_report.txt",
    }
    if plot:
        files["plot"] = out / f"{name}_learning_curve.png"
    for path in files.values():  # a folder or a read-only file in the way would only fail after the runs
        if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)):
            what = "a folder" if path.is_dir() else "a read-only file"
            raise ValueError(
                f"The results file {str(path)!r} cannot be written: {what} is in the way. Move it away, "
                "or pass another output_dir (--output-dir)."
            )
    return files


def _environment():
    import sklearn
    import torch

    return dict(
        python=platform.python_version(), torch=torch.__version__, sklearn=sklearn.__version__,
        cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
        cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    )


class _Logger:
    """Progress lines with the elapsed time, on stderr by default."""

    def __init__(self, verbose, stream, start):
        self.verbose, self.stream, self.start = verbose, stream, start

    def __call__(self, message):
        if not self.verbose:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=stream, flush=True)
