"""Sweep of FineTunedClassifier's recipe: how the defaults were chosen.

Each configuration is the library's defaults with the given parameters
changed, fitted on the benchmark's nested few-label training sets (the same
``make_split``/``training_subset`` protocol as ``sktransfer benchmark``) and
scored on its fixed test set, next to HOG + SVM on the same split in the same
run. Prints one line per (configuration, labels per class): mean accuracy
over seeds, each seed's accuracy, mean fit and predict times (predict on the
whole test set, test-time augmentation included), steps and the blocks the
head read.

Usage::

    python benchmarks/sweep_finetune.py digits --sizes 5 10 --seeds 2 \\
        '{}' '{"augment": "light"}' '{"trainable_blocks": 3}'

The table in docs/finetuning.md ("How the defaults were chosen") is this
script's output.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from sktransfer import FineTunedClassifier, HOGTransformer
from sktransfer.benchmark.datasets import load_dataset
from sktransfer.benchmark.runner import make_split, training_subset


def hog_svm(ds, train, test):
    """HOG + SVM with C chosen by 3-fold CV, on the benchmark's coarser HOG variant only.

    ``sktransfer benchmark`` chooses between two HOG variants by CV and picks
    this one (cells of a quarter side, blocks of 2) at 5 and 10 labels per
    class on digits and MNIST; the sweep skips that choice.
    """
    side = 32 if max(ds.image_shape) <= 32 else 64
    hog = HOGTransformer(pixels_per_cell=side // 4, cells_per_block=2, image_size=side)
    F = hog.fit_transform(ds.X)
    n_splits = min(3, int(np.bincount(np.unique(ds.y[train], return_inverse=True)[1]).min()))
    svm = GridSearchCV(SVC(), {"C": [0.1, 1.0, 10.0, 100.0]}, cv=n_splits).fit(F[train], ds.y[train])
    return accuracy_score(ds.y[test], svm.predict(F[test]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="digits, mnist, fashion-mnist, a folder or an .npz")
    parser.add_argument("configs", nargs="*", default=["{}"],
                        help="JSON dicts of FineTunedClassifier parameters ({} = the defaults)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[5, 10])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_intermixed_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset)
    splits = {(n, seed): make_split(ds.y, 0.3, seed) for n in args.sizes for seed in range(args.seeds)}
    for n in args.sizes:
        accs = [hog_svm(ds, training_subset(splits[n, s][1], n), splits[n, s][0]) for s in range(args.seeds)]
        print(f"{ds.name} n={n}/class hog+svm: acc {np.mean(accs):.3f} ({' '.join(f'{a:.3f}' for a in accs)})",
              flush=True)
    for text in args.configs:
        params = json.loads(text)
        for n in args.sizes:
            accs, fit_times, predict_times = [], [], []
            for seed in range(args.seeds):
                test, per_class = splits[n, seed]
                train = training_subset(per_class, n)
                t0 = time.perf_counter()
                clf = FineTunedClassifier(random_state=seed, verbose=0, **params).fit(ds.X[train], ds.y[train])
                t1 = time.perf_counter()
                predicted = clf.predict(ds.X[test])
                fit_times.append(t1 - t0)
                predict_times.append(time.perf_counter() - t1)
                accs.append(accuracy_score(ds.y[test], predicted))
            print(f"{ds.name} n={n}/class {json.dumps(params)}: acc {np.mean(accs):.3f} "
                  f"({' '.join(f'{a:.3f}' for a in accs)}) fit {np.mean(fit_times):.1f}s "
                  f"predict {np.mean(predict_times):.1f}s ({len(test)} images) steps {clf.n_steps_} "
                  f"layers {clf.layers_} size {clf.image_size_[0]}px", flush=True)


if __name__ == "__main__":
    main()
