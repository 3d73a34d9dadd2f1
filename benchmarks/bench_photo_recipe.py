"""Sweep of the fine-tuning recipe on the colour-photo task (issue 20): which settings keep the probe's accuracy.

Each named configuration is ``FineTunedClassifier`` with the defaults but the
settings listed; ``probe`` is ``trainable_blocks=0`` (the LP in LP-FT). Every
fit sees the same crops; results append as JSON lines to ``--out`` so several
processes (one torch thread each) can share the sweep.

    python benchmarks/bench_photo_recipe.py default probe lr3 --seeds 0 1 --out photo_recipe.jsonl
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from sktransfer import FineTunedClassifier
from sktransfer.benchmark.photos import photo_crops
from sktransfer.nn import PRESETS, BatchAugment

CONFIGS = {
    "probe": dict(trainable_blocks=0),
    "probe-mid": dict(trainable_blocks=0, layer="mid"),
    "default": dict(),
    "glyph-recipe": dict(lr=1e-2, augment="strong"),
    "lr3": dict(lr=1e-3),
    "light": dict(augment="light"),
    "lr3-light": dict(lr=1e-3, augment="light"),
    "lr3-none": dict(lr=1e-3, augment=None),
    "lr3-top2": dict(lr=1e-3, trainable_blocks=2),
    "lr3-light-top2": dict(lr=1e-3, augment="light", trainable_blocks=2),
    "lr1e-4-light": dict(lr=1e-4, augment="light"),
    "lr3-light-mid": dict(lr=1e-3, augment="light", layer="mid"),
    "lr3-photo": dict(lr=1e-3, augment="photo"),
    "lr3-photo-mid": dict(lr=1e-3, augment="photo", layer="mid"),
    "lr3-photo-noflip-mid": dict(lr=1e-3, augment="photo-noflip", layer="mid"),
    "glyph-recipe-mid": dict(lr=1e-2, augment="strong", layer="mid"),
    "lr3-photo-nols": dict(lr=1e-3, augment="photo", label_smoothing=0.0),
    "lr2-photo": dict(lr=2e-3, augment="photo"),
    "lr5e-4-photo": dict(lr=5e-4, augment="photo"),
    "lr3-photo-top2": dict(lr=1e-3, augment="photo", trainable_blocks=2),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("configs", nargs="+", choices=sorted(CONFIGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--out", default="photo_recipe.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", 1)))
    X_test, y_test = photo_crops(30, "test", size=args.size, random_state=1000)
    for seed in args.seeds:
        X, y = photo_crops(args.per_class, "train", size=args.size, random_state=seed)
        for name in args.configs:
            params = dict(CONFIGS[name])
            if params.get("layer") == "mid":
                params["layer"] = [3, 4, 5]
            if params.get("augment") == "photo-noflip":  # the "photo" preset without its flips
                params["augment"] = BatchAugment(**{**PRESETS["photo"], "hflip": 0.0})
            start = time.perf_counter()
            clf = FineTunedClassifier(random_state=seed, verbose=0, **params).fit(X, y)
            fit_s = time.perf_counter() - start
            acc = float(np.mean(clf.predict(X_test) == y_test))
            row = dict(config=name, seed=seed, per_class=args.per_class, size=args.size, accuracy=round(acc, 4),
                       fit_s=round(fit_s, 1), layers=clf.layers_, n_steps=clf.n_steps_,
                       probe_scores={k: round(v, 4) for k, v in getattr(clf, "probe_scores_", {}).items()})
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as file:
                file.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
