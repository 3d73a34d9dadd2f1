"""
Fine-tuning with the defaults
=============================

:class:`~sktransfer.FineTunedClassifier` fine-tunes a pretrained network as an
ordinary scikit-learn classifier. Its default recipe is LP-FT: a linear probe
on frozen features first (which also chooses the blocks the head reads), then
fine-tuning of the network from that probe, with layer-wise learning rates,
augmentation and early stopping. Here it learns scikit-learn's 8x8 digits
from 10 labelled images per class; the training curves and the confusion
matrix are drawn with scikit-learn-style displays.
"""

# %%
# Fit
# ---
# Flattened arrays need ``input_shape``; for 8x8 images the network trains at
# 32 px (``image_size="auto"``). ``verbose=0`` silences skorch's epoch table.
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from sktransfer import FineTunedClassifier, TrainingCurveDisplay

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
rng = np.random.default_rng(0)
train = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), 10, replace=False) for c in range(10)])

clf = FineTunedClassifier(input_shape=(8, 8), random_state=0, verbose=0)
start = time.perf_counter()
clf.fit(X_pool[train], y_pool[train])
print(f"fitted on {len(train)} digits in {time.perf_counter() - start:.1f} s: trained at {clf.image_size_} px, "
      f"the head reads blocks {clf.layers_}")
print(f"test accuracy on {len(y_test)} digits: {clf.score(X_test, y_test):.3f}")

# %%
# The fitted estimator, as a notebook shows it:
clf

# %%
# What happened during training
# -----------------------------
# The loss, the accuracy and the learning rate per epoch, from skorch's
# ``History`` (``clf.history_``).
display = TrainingCurveDisplay.from_estimator(clf)

# %%
# Which digits it confuses
# ------------------------
ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test, colorbar=False)
