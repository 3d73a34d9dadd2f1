"""
Which layer? Ranking by transferability, without training
=========================================================

:func:`~sktransfer.rank_backbones` scores (backbone, layer) candidates from
their frozen features with LogME (You et al., ICML 2021), at about the cost
of one feature pass and without fitting anything. Here it ranks layers of
EfficientNet-Lite0 on 300 of scikit-learn's digits, and the ranking is held
against what it predicts: the cross-validated accuracy of a logistic
regression on each candidate's features. With the ``lite`` extra installed,
``backbones=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]``
ranks three networks the same way.
"""

# %%
import tempfile

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import PretrainedFeatureExtractor, rank_backbones

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = load_digits(return_X_y=True)
X, _, y, _ = train_test_split(X / 16.0, y, train_size=300, stratify=y, random_state=0)
common = dict(image_size=64, input_shape=(8, 8))
memory = tempfile.mkdtemp()  # the features are cached here, and reused by the probes below
layers = ["auto", None, 1, 2, 3, 4, 5, [3, 4, 5]]
table = rank_backbones(X, y, layers=layers, memory=memory, **common)
table

# %%
# LogME against probed accuracy
# -----------------------------
# Each candidate's features come back from the ranking's cache, so the
# probes cost only the logistic regressions.
accuracy = []
for layer in table["layer"]:
    extractor = PretrainedFeatureExtractor(layer=layer, memory=memory, verbose=0, **common)
    features = extractor.fit_transform(X)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    accuracy.append(cross_val_score(probe, features, y, cv=5).mean())
table["probe accuracy"] = accuracy

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(table["logme"], table["probe accuracy"])
for _, row in table.iterrows():
    ax.annotate(str(row["layer"]), (row["logme"], row["probe accuracy"]), textcoords="offset points",
                xytext=(4, 4), fontsize=8)
ax.set(xlabel="LogME (no training)", ylabel="5-fold probe accuracy",
       title="Layers of EfficientNet-Lite0 on 300 digits")
fig.tight_layout()
table[["layer", "blocks", "n_features", "logme", "probe accuracy"]]
