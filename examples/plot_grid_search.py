"""
How deep to fine-tune, and how fast: a grid search
==================================================

:class:`~sktransfer.FineTunedClassifier` is an ordinary scikit-learn
classifier, so the two questions of every fine-tuning project -- how many
blocks of the pretrained network to train, and with which learning rate --
are a ``GridSearchCV`` away. ``trainable_blocks=0`` is the linear probe alone
(the frozen network runs once per fit), which is why that row of the grid is
so much faster. This small search runs on 100 of scikit-learn's digits with a
short training budget (``min_steps=30``); ``examples/finetune_grid_search.py``
is the full-size version on MNIST.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from sktransfer import FineTunedClassifier

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, train_size=100, test_size=500, stratify=y,
                                                    random_state=0)
clf = FineTunedClassifier(input_shape=(8, 8), min_steps=30, tta=0, random_state=0, verbose=0)
grid = {"trainable_blocks": [0, 2, "all"], "lr": [1e-2, 1e-3]}
search = GridSearchCV(clf, grid, cv=2).fit(X_train, y_train)
print(f"best: {search.best_params_}, held-out accuracy {search.score(X_test, y_test):.3f}")

# %%
# The cross-validated accuracies and fit times
# --------------------------------------------
results = pd.DataFrame(search.cv_results_)
results["trainable_blocks"] = results["param_trainable_blocks"].astype(str)
table = results.pivot(index="trainable_blocks", columns="param_lr", values="mean_test_score")
fit_time = results.pivot(index="trainable_blocks", columns="param_lr", values="mean_fit_time")
table

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
for ax, values, title, fmt in ((axes[0], table, "CV accuracy", "{:.3f}"), (axes[1], fit_time, "fit time (s)", "{:.1f}")):
    ax.imshow(values.to_numpy(dtype=float), cmap="viridis")
    ax.set(xticks=range(values.shape[1]), xticklabels=[f"{lr:g}" for lr in values.columns], xlabel="lr",
           yticks=range(values.shape[0]), yticklabels=values.index, ylabel="trainable_blocks", title=title)
    for (i, j), v in np.ndenumerate(values.to_numpy(dtype=float)):
        ax.text(j, i, fmt.format(v), ha="center", va="center", color="white")
fig.tight_layout()
