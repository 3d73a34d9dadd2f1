"""Summaries, the terminal table, results files (CSV, JSON, per-class reports) and the learning-curve plot."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from .evaluation import evaluation, matrix_report, plot_confusion_matrices

__all__ = ["METRICS", "format_table", "plot_learning_curve", "summarize", "write_csv", "write_evaluation",
           "write_json"]

#: Scores of every run, summarised as mean and std over seeds (macro: each class counts the same).
METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def summarize(runs, methods, n_classes):
    """One row per (method, labels per class): mean and std over seeds of each of ``METRICS``.

    ``<metric>_std`` is the sample standard deviation (ddof=1) across seeds,
    0 with a single seed. ``labels_per_class_mean`` is the mean number of
    training images per class actually used (for "all", the pool size).

    Examples
    --------
    >>> from sktransfer.benchmark.report import summarize
    >>> runs = [dict(method="hog", labels_per_class=5, n_train=50, accuracy=acc, precision_macro=acc,
    ...              recall_macro=acc, f1_macro=acc, fit_time_s=1.0, predict_time_s=0.1, chosen="C=10")
    ...         for acc in (0.8, 0.9)]
    >>> row = summarize(runs, ["hog"], n_classes=10)[0]
    >>> row["n_runs"], round(row["accuracy_mean"], 3), round(row["accuracy_std"], 3), row["labels_per_class_mean"]
    (2, 0.85, 0.071, 5.0)
    """
    groups = {}
    for row in runs:
        groups.setdefault((row["method"], row["labels_per_class"]), []).append(row)
    summary = []
    for (method, size), rows in groups.items():
        n_train = float(np.mean([r["n_train"] for r in rows]))
        stats = {}
        for metric in METRICS:
            values = np.array([r[metric] for r in rows])
            stats[f"{metric}_mean"] = float(values.mean())
            stats[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary.append(
            dict(
                method=method,
                labels_per_class=size,
                labels_per_class_mean=n_train / n_classes,
                n_train=n_train,
                n_runs=len(rows),
                **stats,
                fit_time_s=float(np.mean([r["fit_time_s"] for r in rows])),
                predict_time_s=float(np.mean([r["predict_time_s"] for r in rows])),
                chosen=Counter(r["chosen"] for r in rows).most_common(1)[0][0],
            )
        )
    order = {m: i for i, m in enumerate(methods)}
    summary.sort(key=lambda r: (r["labels_per_class_mean"], order.get(r["method"], len(order))))
    return summary


def _size_label(row):
    if row["labels_per_class"] == "all":
        return f"all (~{row['labels_per_class_mean']:.0f})"
    return str(row["labels_per_class"])


def _at_size(config):
    """`` @ 32px`` for images, nothing for texts (which have no size)."""
    return "" if config.get("image_size") is None else f" @ {config.get('image_size')}px"


def format_table(summary, config, wall_time_s):
    """The results as a fixed-width text table with a header and the wall time.

    Scores are shown as mean ± std over seeds; macro precision and recall
    stay in the files, to keep the table within a terminal's width.

    Examples
    --------
    >>> from sktransfer.benchmark.report import format_table
    >>> row = dict(method="pixels", labels_per_class=5, labels_per_class_mean=5.0, n_train=50.0,
    ...            accuracy_mean=0.9, accuracy_std=0.01, f1_macro_mean=0.89, f1_macro_std=0.02,
    ...            fit_time_s=0.03, predict_time_s=0.0, chosen="C=10")
    >>> print(format_table([row], dict(dataset="digits", n_seeds=3), 1.0).splitlines()[2])
    labels/class  method  n_train  accuracy ± std  macro F1 ± std  fit s  predict s  chosen (most often)
    """
    header = ["labels/class", "method", "n_train", "accuracy ± std", "macro F1 ± std", "fit s", "predict s",
              "chosen (most often)"]
    body = [
        [
            _size_label(r),
            r["method"],
            f"{r['n_train']:.0f}",
            f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}",
            f"{r['f1_macro_mean']:.3f} ± {r['f1_macro_std']:.3f}",
            f"{r['fit_time_s']:.2f}",
            f"{r['predict_time_s']:.2f}",
            r["chosen"],
        ]
        for r in summary
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)] if body else [len(h) for h in header]
    right = {0, 2, 3, 4, 5, 6}

    def line(cells):
        return "  ".join(
            (str(c).rjust(w) if i in right else str(c).ljust(w)) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    title = (
        f"{config.get('description', config.get('dataset'))} | backbone {config.get('backbone')}{_at_size(config)} "
        f"| {config.get('n_seeds')} seed(s), test set "
        f"{config.get('test_size')} of each class, fixed per seed | scores: mean ± std over seeds"
    )
    rule = "-" * max(len(line(cells)) for cells in [header, *body])  # long "chosen" cells included
    lines = [title, rule, line(header), rule]
    previous = None
    for r, cells in zip(summary, body):
        if previous is not None and r["labels_per_class"] != previous:
            lines.append("")
        previous = r["labels_per_class"]
        lines.append(line(cells))
    lines += [rule, f"wall time: {wall_time_s:.1f}s ({wall_time_s / 60:.1f} min)"]
    return "\n".join(lines)


def write_csv(rows, path):
    """Write dict rows to ``path`` (columns in first-seen order).

    Columns holding lists or dicts (a run's ``labels`` and
    ``confusion_matrix``) are left out: they are in the JSON file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktransfer.benchmark.report import write_csv
    >>> path = write_csv([dict(method="hog", accuracy=0.9, labels=[0, 1])], os.path.join(tempfile.mkdtemp(), "r.csv"))
    >>> path.read_text().splitlines()
    ['method,accuracy', 'hog,0.9']
    """
    def nested(value):
        return isinstance(value, (list, tuple, dict))

    fields = list(dict.fromkeys(k for row in rows for k, v in row.items() if not nested(v)))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _clean(value):
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(result, path):
    """Config, wall time, summary, the per-class evaluation and every run, in one JSON document.

    NaN (an untuned run's inner score) is written as null.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from types import SimpleNamespace
    >>> from sktransfer.benchmark.report import write_json
    >>> result = SimpleNamespace(config={"dataset": "digits"}, wall_time_s=1.5, summary=[],
    ...                          runs=[dict(method="hog", inner_cv_accuracy=float("nan"))])
    >>> path = write_json(result, os.path.join(tempfile.mkdtemp(), "r.json"))
    >>> json.loads(path.read_text())["runs"]
    [{'method': 'hog', 'inner_cv_accuracy': None}]
    """
    doc = dict(config=result.config, wall_time_s=result.wall_time_s, summary=result.summary,
               evaluation=evaluation(result.runs), runs=result.runs)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_clean(doc), f, indent=2)
    return Path(path)


def plot_learning_curve(summary, path, config):
    """Accuracy and fit time versus labels per class, one line per method.

    Left: test accuracy (mean over seeds) with a band of ± one standard
    deviation; right: mean fit time, log scale, in the same colours. The
    ``scratch`` line is dashed with hollow markers. The x axis is logarithmic
    and shows the number of labelled training images per class.

    Returns the path, or None when matplotlib is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktransfer.benchmark.report import plot_learning_curve
    >>> summary = [dict(method="hog", labels_per_class=n, labels_per_class_mean=float(n), accuracy_mean=acc,
    ...                 accuracy_std=0.02, fit_time_s=0.1 * n) for n, acc in ((5, 0.8), (10, 0.9))]
    >>> path = plot_learning_curve(summary, os.path.join(tempfile.mkdtemp(), "curve.png"),
    ...                            dict(dataset="digits", n_seeds=3))
    >>> path.read_bytes()[:4]
    b'\x89PNG'
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    # The object-oriented API: no pyplot, no global backend switch for the caller.
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_acc, ax_time = fig.subplots(1, 2)
    methods = list(dict.fromkeys(r["method"] for r in summary))
    ticks = {}
    for method in methods:
        rows = [r for r in summary if r["method"] == method]
        x = np.array([r["labels_per_class_mean"] for r in rows])
        mean = np.array([r["accuracy_mean"] for r in rows])
        std = np.array([r["accuracy_std"] for r in rows])
        # scratch is the control of finetune (same network, same cost): dashed and hollow, so it reads
        # as such and does not hide finetune's marker where the two coincide.
        style = dict(marker="o", linestyle="--", fillstyle="none") if method == "scratch" else dict(marker="o")
        (line,) = ax_acc.plot(x, mean, label=method, **style)
        ax_acc.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
        ax_time.plot(x, [r["fit_time_s"] for r in rows], color=line.get_color(), label=method, **style)
        for r in rows:
            ticks.setdefault(round(r["labels_per_class_mean"], 6), _size_label(r).replace(" (", "\n("))
    for ax in (ax_acc, ax_time):
        ax.set_xscale("log")
        ax.set_xticks(list(ticks), list(ticks.values()))
        ax.minorticks_off()
        ax.set_xlabel(f"labelled training {'texts' if config.get('modality') == 'text' else 'images'} per class "
                      "(log scale)")
        ax.grid(True, alpha=0.3)
    ax_acc.set_ylabel(f"test accuracy (mean ± std over {config.get('n_seeds')} seeds)")
    ax_time.set_yscale("log")
    ax_time.set_ylabel("fit time per run (s, log scale)")
    ax_acc.legend(loc="lower right")  # the right panel uses the same colours
    fig.suptitle(f"{config.get('dataset')}: {config.get('backbone')}{_at_size(config)} vs classical baselines")
    fig.savefig(path, dpi=110)
    return Path(path)


# --------------------------------------------------------------------------- per-class files


def _per_class_rows(rows):
    out = []
    for row in rows:
        for name, scores in row["classification_report"].items():
            if isinstance(scores, dict):  # "accuracy" is a number: it is in the summary already
                out.append(dict(method=row["method"], labels_per_class=row["labels_per_class"], label=name,
                                precision=scores["precision"], recall=scores["recall"],
                                f1=scores["f1-score"], support=int(scores["support"])))
    return out


def _largest(rows):
    """The label count with the most training images (``"all"`` when it ran)."""
    sizes = [row["labels_per_class"] for row in rows]
    return "all" if "all" in sizes else max(sizes)


def write_evaluation(runs, files, methods, plot=True):
    """Write the per-class results: CSV, text reports and, for the largest label count, a confusion-matrix
    PNG per method (none when ``plot`` is False or matplotlib is missing). Returns the files written, by
    kind: ``"per_class_csv"``, ``"report_txt"``, ``"confusion_<method>"``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sktransfer.benchmark.evaluation import confusion
    >>> from sktransfer.benchmark.report import write_evaluation
    >>> out = Path(tempfile.mkdtemp())
    >>> runs = [dict(method="hog", labels_per_class=5, **confusion([0, 1, 1], [0, 1, 0]))]
    >>> files = dict(per_class_csv=out / "d_per_class.csv", report_txt=out / "d_classification_report.txt")
    >>> sorted(write_evaluation(runs, files, ["hog"], plot=False))
    ['per_class_csv', 'report_txt']
    >>> (out / "d_classification_report.txt").read_text().splitlines()[0]
    '== hog, 5 labels per class (1 seed(s), test predictions pooled) =='
    """
    rows = evaluation(runs)
    if not rows or "per_class_csv" not in files:
        return {}
    order = {m: i for i, m in enumerate(methods)}
    rows.sort(key=lambda r: (str(r["labels_per_class"]) != "all", r["labels_per_class"] if
                             r["labels_per_class"] != "all" else 0, order.get(r["method"], len(order))))
    written = {"per_class_csv": write_csv(_per_class_rows(rows), files["per_class_csv"])}
    with open(files["report_txt"], "w", encoding="utf-8") as f:
        for row in rows:
            f.write(f"== {row['method']}, {row['labels_per_class']} labels per class "
                    f"({row['n_runs']} seed(s), test predictions pooled) ==\n")
            f.write(matrix_report(row["confusion_matrix"], row["labels"], digits=3) + "\n\n")
    written["report_txt"] = Path(files["report_txt"])
    if not plot:
        return written
    largest = _largest(rows)
    folder = Path(files["per_class_csv"]).parent
    stem = Path(files["per_class_csv"]).name[: -len("_per_class.csv")]
    for row in rows:
        if row["labels_per_class"] == largest:
            path = plot_confusion_matrices(row, folder / f"{stem}_confusion_{row['method']}.png")
            if path is None:
                break
            written[f"confusion_{row['method']}"] = path
    return written
