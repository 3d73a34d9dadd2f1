"""Run the benchmark: every method on the same splits, at several numbers of labels.

Protocol
--------
For each seed, a stratified test set is drawn once (``test_size`` of every
class) and stays fixed for every method and every training size; a dataset
with a fixed test set (``"photos"``, ``"textures"``: ``Dataset.test_mask``)
uses it for every seed instead. The rest is
the training pool; its images are shuffled once per class, and the training
set for ``n`` labels per class is the first ``n`` images of each class, so
smaller training sets are nested in larger ones. ``"all"`` is the whole pool.

Each method's hyperparameters are chosen by stratified inner cross-validation
on the training set only (never the test set):

- ``pixels``: resized raw pixels + RBF SVM; ``C`` is tuned.
- ``hog``: HOG + RBF SVM; ``C`` and the HOG cell/block variant are tuned.
- ``lbp``: uniform local binary pattern histograms + RBF SVM; ``C`` and the
  cell grid (one histogram, or 4x4) are tuned.
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

Texts (``"rotten-tomatoes"``, ``"subjectivity"``, a ``.csv``, a folder of
``.txt`` files) have their own methods (``_text_methods``): ``tfidf`` (word
and character TF-IDF + logistic regression, fitted on each training set,
``C`` tuned), ``features`` (frozen language-model embeddings + standardised
logistic regression, ``C`` tuned), ``finetune`` and ``probe``, with
``all-MiniLM-L6-v2`` unless another backbone is given.

With 1 label per class there is nothing to cross-validate on: defaults are
used and the row says ``tuned=False`` (as does a ``finetune`` or ``scratch``
row without ``finetune_grid``).

Features that do not depend on labels (pixels, HOG, LBP, frozen-backbone features)
are computed once per dataset and variant, then sliced per run; no label
information flows into them, so this is not leakage, only saved time. Their
cost is still charged to each run: ``fit_time_s`` includes the per-image
feature time of every variant compared by the inner search times the number
of training images, ``predict_time_s`` the chosen variant's per-image time
times the number of test images.

Layout
------
This module is the loop: load the dataset, draw each seed's splits, run
every method on each and record the rows. Each method is a small class in
``_methods`` or ``_selfsup_methods`` (:data:`METHOD_CLASSES`, in ``_catalog``), the splits
are drawn in ``_splits`` (:func:`make_split`, :func:`training_subset`), the checks made before any
work are in ``_setup``, and the scores and files in ``evaluation`` and ``report``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._auto import auto_image_size
from ..dask import dask_backend
from ._catalog import METHOD_CLASSES
from ._methods import Settings
from ._setup import Logger, check_arguments, check_output_dir, environment, input_shapes, output_files
from ._splits import check_test_size, combine_domains, iter_splits, make_split, training_subset
from ._text_methods import TEXT_BACKBONE, TEXT_METHODS, check_image_run, check_text_arguments, method_class
from .datasets import load_dataset
from .text import dataset_modality
from .evaluation import scores
from .report import format_table, plot_learning_curve, summarize, write_csv, write_evaluation, write_json

__all__ = ["BenchmarkResult", "DEFAULTS", "DOMAIN_DEFAULT_METHODS", "FINETUNE_GRID", "METHODS", "METHOD_CLASSES",
           "Settings", "TEXT_BACKBONE", "TEXT_METHODS", "combine_domains", "iter_splits", "make_split",
           "run_benchmark", "scores", "training_subset"]

#: Every image method's name, in the order of the tables (see :data:`METHOD_CLASSES` for what each does);
#: a text dataset's are :data:`TEXT_METHODS` (``tfidf``, ``features``, ``finetune``, ``probe``).
METHODS = tuple(METHOD_CLASSES)

#: Domain mode's methods (``target=``) unless others are given: the classical ones and fine-tuning on the
#: source alone, then the adaptations (``adabn`` is DomainAdaptiveClassifier's ``method="none"``: no adaptation
#: loss, only the target's BatchNorm statistics and the "domain" augmentation).
DOMAIN_DEFAULT_METHODS = ("pixels", "hog", "lbp", "features", "finetune",
                          *(name for name, cls in METHOD_CLASSES.items() if cls.needs_target and not cls.requires))

#: Defaults of ``sktransfer benchmark`` (digits, seven methods), sized for a
#: few minutes on a 2-core CPU; see docs/benchmarking.md.
DEFAULTS = dict(
    methods=("pixels", "hog", "lbp", "features", "finetune", "probe", "scratch"),
    labels_per_class=(5, 10, 50, "all"),
    n_seeds=3,
    test_size=0.3,
    backbone="efficientnet_lite0",
    image_size=None,
    cv=3,
)

#: The grid ``--tune-finetune`` searches: the probe alone, or the whole network fine-tuned from it.
FINETUNE_GRID = {"trainable_blocks": [0, "all"]}


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

    Examples
    --------
    >>> from sktransfer.benchmark import run_benchmark
    >>> result = run_benchmark("digits", methods=["hog"], labels_per_class=[3], n_seeds=1, output_dir=None,
    ...                        verbose=0)
    >>> [(r["method"], r["seed"], r["n_train"]) for r in result.runs], result.config["methods"]
    ([('hog', 0, 30)], ['hog'])
    >>> str(result).splitlines()[2].split()[:3]  # the table
    ['labels/class', 'method', 'n_train']
    """

    runs: list
    summary: list
    config: dict
    wall_time_s: float
    files: dict = field(default_factory=dict)

    def to_frame(self, which="runs"):
        """The runs (or ``which="summary"``) as a pandas DataFrame; needs pandas.

        Examples
        --------
        >>> from sktransfer.benchmark import BenchmarkResult
        >>> BenchmarkResult([dict(method="hog", accuracy=0.9)], [], {}, 1.0).to_frame().shape
        (1, 2)
        """
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
    backbone=None,
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
    text_column=None,
    label_column=None,
):
    """Compare classical baselines with transfer learning on one dataset (or from one domain to another).

    Parameters
    ----------
    dataset : str, os.PathLike or Dataset, default="digits"
        ``"digits"``, ``"mnist"`` (needs ``sktransfer[data]``),
        ``"fashion-mnist"`` (the idx files, see ``data_dir``), ``"photos"``,
        ``"textures"``, ``"faces"`` (see :mod:`sktransfer.benchmark.photos`), a
        folder with one sub-folder of images per class, or an ``.npz`` with ``X`` and ``y``.
        Texts: ``"rotten-tomatoes"``, ``"subjectivity"``, a ``.csv`` file (see
        ``text_column``) or a folder of class folders of ``.txt`` files (see
        :mod:`sktransfer.benchmark.text`).
    methods : sequence of str, default=("pixels", "hog", "lbp", "features", "finetune", "probe", "scratch")
        Which methods to compare; see :data:`METHODS`. ``"fixmatch"``
        fine-tunes with the labelled images plus unlabelled ones
        (:class:`~sktransfer.FineTunedClassifier`'s FixMatch);
        ``"adabn"``, ``"dann"`` and ``"coral"`` adapt to the ``target`` domain
        (:class:`~sktransfer.DomainAdaptiveClassifier`; ``"adabn"`` is its
        ``method="none"``: the target's BatchNorm statistics, no adaptation loss).
        A text dataset takes :data:`TEXT_METHODS` (``"tfidf"``: word and
        character TF-IDF + logistic regression, ``"features"``, ``"finetune"``,
        ``"probe"``), all four by default; an image method on texts (or
        ``"tfidf"`` on images) is a ``ValueError``.
    labels_per_class : sequence of int or "all", default=(5, 10, 50, "all")
        Training sizes of the learning curve, in labelled images per class.
        Sizes at least as large as the training pool are the same as "all".
    n_seeds : int, default=3
        Repetitions (seeds 0 .. n_seeds-1), each with its own test split.
    test_size : float, default=0.3
        Fraction of every class held out as the test set; a ``ValueError``
        (before any work) when it leaves a class without a training or a
        test image. A dataset with a fixed test set (``"photos"``,
        ``"textures"``) always uses it: a ``test_size`` given with one is a
        ``ValueError`` (it could change nothing), unless in domain mode,
        where it still splits the source.
    backbone : str or None, default=None
        Backbone of the ``features``, ``finetune``, ``probe`` and ``scratch``
        methods. None: ``"efficientnet_lite0"`` for images,
        :data:`TEXT_BACKBONE` (``"all-MiniLM-L6-v2"``) for texts; a backbone
        of the other modality is a ``ValueError``.
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
        Image shape for an ``.npz`` holding flattened images (in domain
        mode, for whichever of ``dataset`` and ``target`` is one); a
        ``ValueError`` when neither is an ``.npz``.
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
        images only. The default methods become ``pixels, hog, lbp, features,
        finetune`` (the source only), ``adabn``, ``dann`` and ``coral``. Two datasets
        with the same labels in the same order (``mnist`` and ``mnist-m``)
        get the same split, so no test digit is a training digit in the
        other domain.
    text_column, label_column : str or None, default=None
        The columns of a ``.csv`` dataset holding the texts and the labels
        (None: ``"text"`` and ``"label"``); a ``ValueError`` for any other dataset.

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
    log = Logger(verbose, stream, start)
    names, sizes, finetune_params, backbone = _check_run(
        dataset, methods, labels_per_class, backbone=backbone, image_size=image_size, unlabeled=unlabeled,
        target=target, n_seeds=n_seeds, cv=cv, n_jobs=n_jobs, finetune_params=finetune_params,
        finetune_grid=finetune_grid, test_size=test_size)
    shape, target_shape = input_shapes(input_shape, dataset, target)
    check_output_dir(output_dir)  # before any work: finding out after an hour of runs loses them

    # With a Dask scheduler, joblib sends the inner searches' fits (and HOG's batches) to its workers.
    with dask_backend(scheduler, log) as on_cluster:
        if on_cluster:
            n_jobs = -1
        ds = load_dataset(dataset, input_shape=shape, data_dir=data_dir, text_column=text_column,
                          label_column=label_column)
        n_source = None
        if target is not None:  # one dataset: the source's images, then the target's
            ds, n_source = combine_domains(ds, load_dataset(target, input_shape=target_shape))
        _check_fixed_test_set(ds, test_size, n_source, log)
        check_test_size(ds.y, test_size, n_source, ds.test_mask)  # before the features are computed
        # Without image_size, features use the estimator's own "auto" rule; texts have no size.
        backbone_size = image_size if image_size is not None or ds.modality == "text" else auto_image_size(
            ds.image_shape)[0]
        settings = Settings(backbone=backbone, image_size=image_size, backbone_size=backbone_size,
                            finetune_params=finetune_params, finetune_grid=finetune_grid, cv=cv, device=device,
                            n_jobs=n_jobs, log=log)
        config = dict(
            dataset=ds.name, description=ds.description, n_images=len(ds), n_classes=len(ds.classes),
            methods=list(names), labels_per_class=list(sizes), n_seeds=n_seeds,
            test_size=test_size if ds.test_mask is None or n_source is not None else _fixed_size(ds),
            backbone=backbone, image_size=backbone_size, finetune_params=finetune_params,
            finetune_grid=finetune_grid, cv=cv, device=device,
            n_jobs=n_jobs, scheduler=scheduler, unlabeled=bool(unlabeled),
            target=None if target is None else ds.name.split("-to-", 1)[1], modality=ds.modality,
            environment=environment(),
        )
        log(f"dataset: {ds.description}")
        log(f"methods: {', '.join(names)} | labels/class: {', '.join(map(str, sizes))} | seeds: {n_seeds} | "
            f"backbone: {backbone}" + ("" if backbone_size is None else f" @ {backbone_size}px (features)"))
        files = output_files(output_dir, ds.name, plot)  # the file names need the dataset's name
        methods = [method_class(name, ds.modality)(settings) for name in names]
        for method in methods:  # label-free features, once per dataset and variant
            method.prepare(ds)
        runs = _run_all(methods, ds, iter_splits(ds, sizes, n_seeds, test_size, n_source), n_seeds, files, log)
        return _finish(runs, config, files, start, log)


def _check_run(dataset, methods, labels_per_class, *, backbone, image_size, unlabeled, target, **common):
    """The methods, sizes, ``finetune_params`` and backbone of a run, checked before any work, texts or images.

    A dataset's modality is known before it is loaded (:func:`~sktransfer.benchmark.text.dataset_modality`),
    so the default methods and backbone can follow it: :data:`TEXT_METHODS` and :data:`TEXT_BACKBONE` for
    texts; :data:`DOMAIN_DEFAULT_METHODS` in domain mode.
    """
    if dataset_modality(dataset) == "text":
        return check_text_arguments(
            TEXT_METHODS if methods is DEFAULTS["methods"] else methods, labels_per_class, dataset=dataset,
            backbone=backbone, image_size=image_size, unlabeled=unlabeled, target=target, **common)
    if target is not None and methods is DEFAULTS["methods"]:
        methods = DOMAIN_DEFAULT_METHODS
    backbone = check_image_run(methods, dataset, backbone, DEFAULTS["backbone"])
    names, sizes, finetune_params = check_arguments(methods, labels_per_class, image_size=image_size,
                                                    unlabeled=unlabeled, target=target, **common)
    return names, sizes, finetune_params, backbone


def _check_fixed_test_set(ds, test_size, n_source, log):
    """Refuse a ``test_size`` given for a dataset whose fixed test set it could not change; log that set."""
    if ds.test_mask is None or n_source is not None:
        return
    if test_size is not DEFAULTS["test_size"]:  # the default object: not given (the CLI passes it on as is)
        raise ValueError(
            f"Dataset {ds.name!r} has a fixed test set ({_fixed_size(ds)} per class, cut from parts of the images "
            f"no training image comes from), so test_size={test_size} (--test-size) cannot apply. Drop test_size; "
            "the label budgets (labels_per_class) say how much of the training pool each run uses.")
    log(f"test set: the dataset's fixed {int(ds.test_mask.sum())} images, the same for every seed")


def _fixed_size(ds):
    """How many images per class a fixed test set holds, as words for the report."""
    counts = np.unique(ds.y[ds.test_mask], return_counts=True)[1]
    return f"{counts[0]} fixed images" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()} fixed images"


def _run_all(methods, ds, splits, n_seeds, files, log):
    """Every method on every split, in that order: one row per run, the runs CSV rewritten after each."""
    runs = []
    for split in splits:
        for method in methods:
            where = split.where(n_seeds, method.name)
            log(f"{where} ...")
            row = method.run(ds, split)
            row = dict(dataset=ds.name, method=method.name, seed=split.seed, labels_per_class=split.size,
                       n_train=len(split.train), n_unlabeled=method.n_unlabeled(split), n_test=len(split.test),
                       **row)
            runs.append(row)
            log(f"{where}: accuracy {row['accuracy']:.3f}, macro F1 {row['f1_macro']:.3f}, "
                f"fit {row['fit_time_s']:.2f}s, "
                f"predict {row['predict_time_s']:.2f}s [{row['chosen']}]")
            if files:
                write_csv(runs, files["runs_csv"])  # partial results survive an interrupt
    return runs


def _finish(runs, config, files, start, log):
    """The summary, the files after the runs (summary, plot, per-class results, JSON) and the result."""
    summary = summarize(runs, config["methods"], config["n_classes"])
    if files:
        write_csv(summary, files["summary_csv"])
        if "plot" in files and plot_learning_curve(summary, files["plot"], config) is None:
            log('matplotlib is not installed: no plot written (pip install "sktransfer[plot]")')
            del files["plot"]
        files.update(write_evaluation(runs, files, config["methods"], plot="plot" in files))
    wall = time.perf_counter() - start
    config["wall_time_s"] = round(wall, 2)
    result = BenchmarkResult(runs, summary, config, wall, files)
    if files:
        write_json(result, files["json"])
    log(f"done in {wall:.1f}s")
    return result
