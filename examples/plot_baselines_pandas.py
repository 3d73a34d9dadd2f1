"""
Classical baselines, pandas output and feature names
====================================================

Before paying for a pretrained network, know what a classical pipeline gets
on the same images. :class:`~sktransfer.HOGTransformer` (histograms of
oriented gradients) and :class:`~sktransfer.PixelTransformer` (resized raw
pixels) take every input the other estimators take, and, like every
sktransfer transformer, name their output features and return pandas
DataFrames after ``set_output(transform="pandas")``, in a ``Pipeline`` too.
"""

# %%
# Three pipelines
# ---------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sktransfer import HOGTransformer, PixelTransformer, PretrainedFeatureExtractor

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)

pipelines = {
    "pixels + SVM": make_pipeline(PixelTransformer(input_shape=(8, 8)), SVC(C=10)),
    "HOG + SVM": make_pipeline(HOGTransformer(image_size=32, pixels_per_cell=8, input_shape=(8, 8)), SVC(C=10)),
    "pretrained features + LR": make_pipeline(
        PretrainedFeatureExtractor(layer=[3, 4, 5], image_size=64, input_shape=(8, 8), verbose=0),
        StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)),
}
pipelines["HOG + SVM"]

# %%
# pandas output, with the features' names
# ---------------------------------------
# ``set_output`` on a pipeline reaches every step; the HOG features are named
# by block, cell and orientation bin.
hog = make_pipeline(HOGTransformer(image_size=32, pixels_per_cell=8, input_shape=(8, 8)), StandardScaler())
hog.set_output(transform="pandas")
frame = hog.fit_transform(X_pool[:3])
print(frame.shape)
frame.iloc[:, :5]

# %%
# The pixel transformer names each pixel by its row and column:
PixelTransformer(input_shape=(8, 8)).fit(X_pool).get_feature_names_out()[:10]

# %%
# Accuracy against the number of labels
# -------------------------------------
rng = np.random.default_rng(0)
per_class = [5, 10, 30]
scores = {name: [] for name in pipelines}
for n in per_class:
    idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), n, replace=False) for c in range(10)])
    for name, pipeline in pipelines.items():
        scores[name].append(pipeline.fit(X_pool[idx], y_pool[idx]).score(X_test, y_test))

fig, ax = plt.subplots(figsize=(6, 3.5))
width = 0.25
for k, (name, values) in enumerate(scores.items()):
    ax.bar(np.arange(len(per_class)) + (k - 1) * width, values, width, label=name)
ax.set(xticks=range(len(per_class)), xticklabels=per_class, xlabel="labelled images per class",
       ylabel="test accuracy", ylim=(0.5, 1.0), title="Three pipelines on 8x8 digits")
ax.legend(loc="lower right")
fig.tight_layout()
