"""Evaluating runs: a run's scores, confusion matrix and fit description; the per-class evaluation over seeds.

:func:`scores`, :func:`confusion` and :func:`describe_fit` make cells of a
run's row; :func:`evaluation` pools a (method, label count)'s confusion
matrices over seeds into scikit-learn's classification report, and
:func:`plot_confusion_matrices` draws one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

__all__ = ["confusion", "describe_fit", "evaluation", "matrix_report", "plot_confusion_matrices", "scores"]


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


def confusion(y_true, y_pred):
    """A run's confusion matrix: rows are true classes, columns predicted ones, over the labels seen.

    Examples
    --------
    >>> from sktransfer.benchmark.evaluation import confusion
    >>> confusion([0, 0, 1, 1], [0, 0, 0, 1])
    {'labels': [0, 1], 'confusion_matrix': [[2, 0], [1, 1]]}
    """
    labels = np.union1d(np.asarray(y_true), np.asarray(y_pred))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return dict(labels=labels.tolist(), confusion_matrix=matrix.tolist())


def describe_fit(model, chosen):
    """The ``chosen`` cell of a network run: input size, blocks read, budget actually trained, ``chosen`` params.

    The estimator picks these itself, so the row shows what it picked. Every
    fitted attribute is read with a fallback, so a model without one (a
    stand-in in the tests, a classifier from before these attributes) costs
    a word of the table, not the benchmark.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from sktransfer.benchmark.evaluation import describe_fit
    >>> describe_fit(SimpleNamespace(image_size_=(64, 64), layers_=[3, 4], n_steps_=203, history_=[{}] * 29), {})
    '64px, blocks [3, 4], 203 steps (29 epochs)'
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


def evaluation(runs):
    """Per (method, labels per class): the confusion matrix summed over seeds and scikit-learn's
    classification report (precision, recall, F1 and support per class, macro and weighted averages)
    of those pooled test predictions.

    Runs without a ``confusion_matrix`` (results from before it was recorded) are skipped.

    Examples
    --------
    >>> from sktransfer.benchmark.evaluation import confusion, evaluation
    >>> runs = [dict(method="hog", labels_per_class=5, **confusion([0, 1, 1], [0, 1, 0])),
    ...         dict(method="hog", labels_per_class=5, **confusion([0, 1, 1], [0, 1, 1]))]
    >>> row = evaluation(runs)[0]
    >>> row["confusion_matrix"], round(row["classification_report"]["macro avg"]["f1-score"], 3)
    ([[2, 0], [1, 3]], 0.829)
    """
    groups = {}
    for run in runs:
        if "confusion_matrix" in run:
            groups.setdefault((run["method"], run["labels_per_class"]), []).append(run)
    rows = []
    for (method, size), group in groups.items():
        labels = sorted({label for run in group for label in run["labels"]}, key=_label_order)
        position = {label: i for i, label in enumerate(labels)}
        total = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for run in group:
            where = [position[label] for label in run["labels"]]
            total[np.ix_(where, where)] += np.asarray(run["confusion_matrix"], dtype=np.int64)
        report = matrix_report(total, labels, output_dict=True)
        rows.append(dict(method=method, labels_per_class=size, n_runs=len(group), labels=labels,
                         confusion_matrix=total.tolist(), classification_report=report))
    return rows


def matrix_report(matrix, labels, **kwargs):
    """scikit-learn's classification report of the predictions a confusion matrix counts.

    The report depends on the matrix only: the pooled (true, predicted)
    pairs are rebuilt from it. ``kwargs`` go to
    :func:`sklearn.metrics.classification_report` (``output_dict``, ``digits``).

    Examples
    --------
    >>> from sktransfer.benchmark.evaluation import matrix_report
    >>> matrix_report([[2, 0], [1, 3]], ["cat", "dog"], output_dict=True)["dog"]["recall"]
    0.75
    """
    matrix = np.asarray(matrix)
    true, pred = np.nonzero(matrix)
    counts = matrix[true, pred]
    return classification_report(np.repeat(true, counts), np.repeat(pred, counts), labels=np.arange(len(labels)),
                                 target_names=[str(v) for v in labels], zero_division=0, **kwargs)


def _label_order(label):
    return (0, label, "") if isinstance(label, (int, float)) else (1, 0, str(label))


def plot_confusion_matrices(row, path):
    """One method's confusion matrix (counts pooled over seeds, rows normalised to recall) as a PNG.

    Returns the path, or None when matplotlib is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktransfer.benchmark.evaluation import confusion, evaluation, plot_confusion_matrices
    >>> row = evaluation([dict(method="hog", labels_per_class=5, **confusion([0, 1, 1], [0, 1, 0]))])[0]
    >>> plot_confusion_matrices(row, os.path.join(tempfile.mkdtemp(), "hog.png")).read_bytes()[:4]
    b'\x89PNG'
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    counts = np.asarray(row["confusion_matrix"], dtype=np.float64)
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(row["labels"])
    side = max(4.0, 0.45 * n + 2)
    fig = Figure(figsize=(side + 1, side), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    if n <= 30:  # beyond that, the numbers would not fit their cells
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if recall[i, j] > 0.5 else "black")
    ticks = np.arange(n)
    ax.set_xticks(ticks, [str(v) for v in row["labels"]], rotation=90 if n > 10 else 0)
    ax.set_yticks(ticks, [str(v) for v in row["labels"]])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{row['method']}, {row['labels_per_class']} labels per class: accuracy {accuracy:.3f} "
                 f"({row['n_runs']} seed(s))", fontsize=9)
    fig.savefig(path, dpi=110)
    return Path(path)
