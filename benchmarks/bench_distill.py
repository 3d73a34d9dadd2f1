"""Knowledge distillation: a student's accuracy and predict speed against its teacher's, side by side.

The teacher is ``FineTunedClassifier()`` with its defaults (Lite0, four
test-time views) on ``--labels`` labelled images per class; the student,
``DistilledClassifier``'s default ``FineTunedRegressor(tta=0)`` and a smaller
one (``--small-size`` px), learns the teacher's outputs on the labelled and
``--unlabeled`` unlabelled images. Test accuracy on 2,000 held-out images and
predict throughput (teacher and students interleaved, medians) are printed,
with the ratio student / teacher. Goal: >= 2x faster at <= 1 point lost.

Run: python benchmarks/bench_distill.py [--dataset mnist] [--labels 50] [--unlabeled 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from sktransfer import DistilledClassifier, FineTunedClassifier, FineTunedRegressor
from sktransfer.benchmark.datasets import load_dataset


def throughput(model, X, repeats=3):
    model.predict(X[:32])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(X)
        times.append(time.perf_counter() - start)
    return len(X) / statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--labels", type=int, default=50, help="labelled images per class")
    parser.add_argument("--unlabeled", type=int, default=2000)
    parser.add_argument("--small-size", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_dataset(args.dataset)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(ds.y))
    test, pool = order[-2000:], order[:-2000]
    labeled = np.concatenate([pool[ds.y[pool] == c][:args.labels] for c in np.unique(ds.y)])
    unlabeled = np.setdiff1d(pool, labeled)[:args.unlabeled]
    X = np.concatenate([ds.X[labeled], ds.X[unlabeled]])
    y = np.concatenate([ds.y[labeled], np.full(len(unlabeled), -1)])
    X_test, y_test = ds.X[test], ds.y[test]

    start = time.perf_counter()
    teacher = FineTunedClassifier(verbose=0, random_state=args.seed).fit(ds.X[labeled], ds.y[labeled])
    print(f"{args.dataset}: {len(labeled)} labelled, {len(unlabeled)} unlabelled images; teacher fit "
          f"{time.perf_counter() - start:.0f} s, image_size {teacher.image_size_}, tta {teacher.tta}")
    students = {}
    for name, student in [("student (tta=0)", None),
                          (f"student ({args.small_size} px)", FineTunedRegressor(tta=0, image_size=args.small_size,
                                                                                  verbose=0, random_state=args.seed))]:
        start = time.perf_counter()
        student = student or FineTunedRegressor(tta=0, verbose=0, random_state=args.seed)
        students[name] = DistilledClassifier(FrozenEstimator(teacher), student).fit(X, y)
        print(f"{name}: fit {time.perf_counter() - start:.0f} s, R² of the teacher's logits "
              f"{students[name].distillation_r2_:.3f}")
    models = {"teacher": teacher, **students}
    rates = {name: [] for name in models}
    for _ in range(2):  # interleaved rounds
        for name, model in models.items():
            rates[name].append(throughput(model, X_test[:1000]))
    teacher_acc, teacher_rate = teacher.score(X_test, y_test), max(rates["teacher"])
    print(f"{'model':22} {'accuracy':>8} {'vs teacher':>10} {'img/s':>8} {'speed-up':>8}")
    for name, model in models.items():
        acc = model.score(X_test, y_test)
        print(f"{name:22} {acc:8.4f} {acc - teacher_acc:+10.4f} {max(rates[name]):8.1f} "
              f"{max(rates[name]) / teacher_rate:7.2f}x")


if __name__ == "__main__":
    main()
