"""What a benchmark run checks and sets up before any work: arguments, output folder, environment, progress log."""

from __future__ import annotations

import os
import platform
import sys
import time
from numbers import Integral
from pathlib import Path

import sklearn
import torch

from .._files import check_writable_folder
from ..estimators import FineTunedClassifier
from ._catalog import METHOD_CLASSES
from .datasets import takes_input_shape

__all__ = ["Logger", "check_arguments", "check_finetune_params", "check_output_dir", "environment", "input_shapes",
           "output_files"]


def check_arguments(methods, labels_per_class, *, n_seeds, cv, n_jobs, finetune_params, finetune_grid, image_size,
                    test_size, unlabeled, target):
    """Check :func:`~sktransfer.benchmark.run_benchmark`'s arguments before any work.

    Returns the method names (``"fixmatch"`` added with ``unlabeled``, each
    once), the sorted label budgets, and ``finetune_params`` as a dict; an
    argument that cannot work is a ``ValueError`` that says what to pass.

    Examples
    --------
    >>> from sktransfer.benchmark._setup import check_arguments
    >>> check_arguments(["hog", "finetune"], [50, "all", 5], n_seeds=1, cv=3, n_jobs=1, finetune_params=None,
    ...                 finetune_grid=None, image_size=None, test_size=0.3, unlabeled=True, target=None)
    (['hog', 'finetune', 'fixmatch'], [5, 50, 'all'], {})
    """
    methods = _check_methods(list(methods) + (["fixmatch"] if unlabeled else []))
    adapting = [m for m, cls in METHOD_CLASSES.items() if cls.needs_target and m in methods]
    if target is None and adapting:
        raise ValueError(f"the {' and '.join(adapting)} method(s) adapt to a target "
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
    networks = [m for m in methods if METHOD_CLASSES[m].network]
    if networks:
        check_finetune_params(finetune_params, networks)
    return methods, sizes, finetune_params


def input_shapes(input_shape, dataset, target):
    """The ``input_shape`` of the dataset and of the target: only an ``.npz`` file takes one.

    In domain mode one of the two may be a flattened ``.npz`` and the other
    anything; an ``input_shape`` that neither can use is an error, not
    silently ignored.

    Examples
    --------
    >>> from sktransfer.benchmark._setup import input_shapes
    >>> input_shapes((8, 8), "flat.npz", "mnist-m"), input_shapes(None, "digits", None)
    (((8, 8), None), (None, None))
    """
    if input_shape is None:
        return None, None
    if target is None:
        return input_shape, None  # load_dataset says why a folder or a built-in dataset takes none
    if not (takes_input_shape(dataset) or takes_input_shape(target)):
        raise ValueError(
            f"input_shape (--input-shape) only reshapes the flattened images of an .npz file; neither "
            f"{str(dataset)!r} nor the target {str(target)!r} is one. Drop input_shape; to resize the images "
            "the backbones see, use image_size (--image-size)."
        )
    return tuple(input_shape if takes_input_shape(d) else None for d in (dataset, target))


def check_finetune_params(params, methods=("finetune",)):
    """Check ``finetune_params`` before any work: unknown or reserved names fail, with the valid ones.

    The network ``methods`` all take FineTunedClassifier's parameters. Making
    the estimator to read its parameters is the first use of the torch stack:
    when it cannot be used here (an ``ImportError``), the error says to leave
    the network methods out.

    Examples
    --------
    >>> from sktransfer.benchmark._setup import check_finetune_params
    >>> check_finetune_params({"max_epochs": 10})
    >>> check_finetune_params({"max_epoch": 10})
    Traceback (most recent call last):
    ...
    ValueError: Unknown FineTunedClassifier parameter(s) 'max_epoch' in finetune_params; valid ones: ...
    """
    try:
        valid = set(FineTunedClassifier().get_params())
    except ImportError as exc:
        raise ValueError(
            f"The {' and '.join(map(repr, methods))} method(s) need sktransfer.FineTunedClassifier, which cannot "
            f"be used here ({exc}). Leave them out with --methods pixels hog features."
        ) from exc
    reserved = {"backbone", "random_state", "device", "verbose"} & set(params)
    if reserved:
        raise ValueError(
            f"finetune_params may not set {', '.join(sorted(reserved))}: the benchmark sets them (backbone "
            "with --backbone, device with --device, random_state to each seed, verbose to 0)."
        )
    unknown = [k for k in params if k not in valid and "__" not in k]
    if unknown:
        raise ValueError(
            f"Unknown FineTunedClassifier parameter(s) {', '.join(map(repr, unknown))} in finetune_params; "
            f"valid ones: {', '.join(sorted(valid))}."
        )


def _check_methods(methods):
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHOD_CLASSES]
    names = ", ".join(METHOD_CLASSES)
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(map(repr, unknown))}; choose from {names}.")
    if not methods:
        raise ValueError(f"No methods to compare; choose one or more of {names}.")
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


def _check_int(value, name, low):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")


def check_output_dir(output_dir):
    """Raise a ValueError naming the fix when results could not be written to ``output_dir``.

    Creates the folder, as writing the results would, writes and removes a
    probe file in it, then removes the folders it created: permissions,
    read-only file systems and a file in the way all show up here, before any
    work, and nothing is left behind.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktransfer.benchmark._setup import check_output_dir
    >>> folder = os.path.join(tempfile.mkdtemp(), "results", "digits")
    >>> check_output_dir(folder)
    >>> os.path.exists(folder)
    False
    >>> check_output_dir(__file__)
    Traceback (most recent call last):
    ...
    ValueError: output_dir (--output-dir) ... is an existing file, not a folder: ...
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
        check_writable_folder(out)
        for folder in missing:  # leave no trace: a run that fails later must not leave empty folders
            folder.rmdir()
    except OSError as exc:
        raise ValueError(
            f"output_dir (--output-dir) {str(out)!r} cannot be written to ({type(exc).__name__}: "
            f"{exc.strerror or exc}). {fix}"
        ) from exc


def output_files(output_dir, name, plot):
    """The results files of dataset ``name`` in ``output_dir``, by kind (the folder is created; None: none).

    A folder or a read-only file where a results file goes is an error now,
    not after the runs.

    Examples
    --------
    >>> import tempfile
    >>> from sktransfer.benchmark._setup import output_files
    >>> files = output_files(tempfile.mkdtemp(), "digits", plot=True)
    >>> sorted(files), files["json"].name
    (['json', 'per_class_csv', 'plot', 'report_txt', 'runs_csv', 'summary_csv'], 'digits_results.json')
    """
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


def environment():
    """Versions and hardware of this run, for the results' ``config``.

    Examples
    --------
    >>> from sktransfer.benchmark._setup import environment
    >>> sorted(environment())
    ['cpu_count', 'cuda', 'python', 'sklearn', 'torch', 'torch_threads']
    """
    return dict(
        python=platform.python_version(), torch=torch.__version__, sklearn=sklearn.__version__,
        cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(),
        cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    )


class Logger:
    """Progress lines with the elapsed time, on ``stream`` (``sys.stderr`` when None); nothing when not ``verbose``.

    Examples
    --------
    >>> import io, time
    >>> from sktransfer.benchmark._setup import Logger
    >>> stream = io.StringIO()
    >>> Logger(1, stream, time.perf_counter())("dataset: digits")
    >>> stream.getvalue().endswith("s] dataset: digits\\n")
    True
    """

    def __init__(self, verbose, stream, start):
        self.verbose, self.stream, self.start = verbose, stream, start

    def __call__(self, message):
        if not self.verbose:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=stream, flush=True)
