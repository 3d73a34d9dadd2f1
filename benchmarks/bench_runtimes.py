"""Prediction speed and accuracy: torch eager against ONNX Runtime, OpenVINO and static int8.

Part 1, speed: a classifier at 224 px (EfficientNet-Lite0's final features and
its probe head, ``trainable_blocks=0``) predicts the same photo crops through
each runtime, at batch 32 and batch 1, with 1 and 2 torch threads. The
runtimes are interleaved and repeated, and the medians compared: ratio =
images/s of the runtime / images/s of torch eager (the library's own path,
channels-last). The outputs' largest difference from eager is printed beside,
and the latency of one image per ``predict`` call.

Part 2, int8 on tasks: ``FineTunedClassifier(runtime="onnx", quantize="int8")``
with its defaults on MNIST, Fashion-MNIST and a photo task; the test accuracy
of the float and of the int8 network, whether ``fit`` kept int8, and the
predict speed of each.

Run: python benchmarks/bench_runtimes.py [--repeats 5] [--skip-tasks]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch

from sktransfer import FineTunedClassifier, export_onnx

RUNTIMES = ("torch", "onnx", "openvino")


def photo_crops(n_per_class, size, seed, half):
    """Square crops of six scikit-image photographs; the class is the photograph.

    ``half`` 0 crops the left half of each photo, 1 the right half: train and
    test crops never overlap.
    """
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.immunohistochemistry(),
              data.hubble_deep_field()]
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label, photo in enumerate(photos):
        h, w = photo.shape[:2]
        left, right = (0, w // 2) if half == 0 else (w // 2, w)
        for _ in range(n_per_class):
            side = int(rng.integers(min(h, right - left) // 4, min(h, right - left) // 2))
            top, x0 = int(rng.integers(0, h - side)), int(rng.integers(left, right - side))
            crop = torch.from_numpy(photo[top:top + side, x0:x0 + side]).permute(2, 0, 1)[None].float()
            crop = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True)
            X.append(crop[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
            y.append(label)
    return np.stack(X), np.array(y)


def images_per_second(clf, X, batch_size, repeats):
    """Median images/s of ``decision_function`` over ``repeats`` runs (after one warm-up)."""
    clf.set_params(batch_size=batch_size)
    clf.decision_function(X[:batch_size])  # export and compile happen once, outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.decision_function(X)
        times.append(time.perf_counter() - start)
    return len(X) / statistics.median(times)


def speed(repeats):
    print("== Part 1: predict speed at 224 px (Lite0 final features + probe head), photo crops ==")
    X, y = photo_crops(20, 224, seed=0, half=0)
    torch.set_num_threads(2)
    clf = FineTunedClassifier(trainable_blocks=0, layer=None, image_size=224, tta=0, verbose=0, random_state=0)
    clf.fit(X, y)
    int8 = FineTunedClassifier(trainable_blocks=0, layer=None, image_size=224, tta=0, verbose=0, random_state=0,
                               runtime="onnx", quantize="int8").fit(X, y)
    print(f"int8 kept: {int8.quantized_} ({_decided(int8)})")
    test, _ = photo_crops(16, 224, seed=1, half=1)
    reference = clf.set_params(runtime="torch").decision_function(test)
    models = [(name, clf, name) for name in RUNTIMES] + [(f"{rt}-int8", int8, rt) for rt in ("onnx", "openvino")]
    print("threads batch " + " ".join(f"{name:>14}" for name, _, _ in models))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (32, 1):
            rates = {name: [] for name, _, _ in models}
            for _ in range(2):  # interleaved rounds: machine noise hits every runtime alike
                for name, model, runtime in models:
                    model.set_params(runtime=runtime)
                    n = len(test) if batch > 1 else 16
                    rates[name].append(images_per_second(model, test[:n], batch, repeats))
            base = max(rates["torch"])
            cells = " ".join(f"{max(r) / base:13.2f}x" for r in rates.values())
            print(f"{threads:7d} {batch:5d} {cells}   (torch {base:.1f} img/s)")
    torch.set_num_threads(1)
    print("one image per predict call (a server's request), 1 thread, median of 30 calls:")
    for name, model, runtime in models:
        model.set_params(runtime=runtime, batch_size=32).predict(test[:1])
        seconds = []
        for i in range(30):
            start = time.perf_counter()
            model.predict(test[i % len(test)][None])
            seconds.append(time.perf_counter() - start)
        print(f"  {name:14} {1e3 * statistics.median(seconds):6.1f} ms")
    for name, model, runtime in models:
        decision = model.set_params(runtime=runtime, batch_size=32).decision_function(test)
        agree = np.mean(decision.argmax(1) == reference.argmax(1))
        print(f"{name}: max |decision - torch eager| {np.abs(decision - reference).max():.2e}, "
              f"same class {agree:.3f}")
    with tempfile.TemporaryDirectory() as folder:
        float_file = export_onnx(clf, os.path.join(folder, "float.onnx"))
        int8_file = export_onnx(clf, os.path.join(folder, "int8.onnx"), calibration=X)
        print(f"export_onnx file: float {float_file.stat().st_size / 1e6:.1f} MB, int8 "
              f"{int8_file.stat().st_size / 1e6:.1f} MB ({float_file.stat().st_size / int8_file.stat().st_size:.2f}x "
              "smaller)")


def tasks(n_train):
    from sktransfer.benchmark.datasets import load_fashion_mnist_dataset, load_mnist_dataset

    print(f"\n== Part 2: int8 on tasks (FineTunedClassifier defaults, {n_train} training images) ==")
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    cases = []
    for loader in (load_mnist_dataset, load_fashion_mnist_dataset):
        ds = loader()
        order = rng.permutation(len(ds.y))
        cases.append((ds.name, ds.X[order[:n_train]], ds.y[order[:n_train]], ds.X[order[-2000:]],
                      ds.y[order[-2000:]]))
    train = photo_crops(50, 64, seed=0, half=0)  # 300 images: a default fit on photos is slow on 2 cores
    test = photo_crops(100, 64, seed=1, half=1)
    cases.append(("photos", *train, *test))
    print(f"{'task':14} {'float acc':>9} {'int8 acc':>9} {'kept':>5} {'int8 speed':>10}  fit check")
    for name, X, y, X_test, y_test in cases:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf = FineTunedClassifier(runtime="onnx", quantize="int8", verbose=0, random_state=0).fit(X, y)
        fit_s = time.perf_counter() - start
        kept = clf.quantized_
        int8_acc = clf.score(X_test, y_test) if kept else float("nan")
        int8_rate = images_per_second(clf, X_test[:512], 32, 3) if kept else float("nan")
        clf.quantized_ = False  # the float network, in the same runtime
        float_acc = clf.score(X_test, y_test)
        float_rate = images_per_second(clf.set_params(runtime="onnx"), X_test[:512], 32, 3)
        torch_rate = images_per_second(clf.set_params(runtime="torch"), X_test[:512], 32, 3)
        note = "; ".join(str(w.message) for w in caught if "int8" in str(w.message))
        if not kept:  # what fit refused, scored all the same: the exported int8 file, without the views
            int8_acc = exported_int8_accuracy(clf, X, X_test, y_test)
        print(f"{name:14} {float_acc:9.4f} {int8_acc:9.4f} {str(kept):>5} {int8_rate / torch_rate:9.2f}x  "
              f"{_decided(clf)} fit {fit_s:.0f} s; onnx float {float_rate / torch_rate:.2f}x\n    warning: {note}")


def _decided(clf):
    """What ``fit``'s int8 check measured, rounded for print."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in clf.int8_scores_.items()}


def exported_int8_accuracy(clf, X, X_test, y_test):
    """Test accuracy of ``export_onnx(clf, calibration=X)`` (int8, no views) run by plain onnxruntime."""
    import onnxruntime

    channels = 1 if X.ndim == 3 else 3
    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(clf, os.path.join(folder, "int8.onnx"), channels=channels, calibration=X[:128])
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = X_test.astype(np.float32) / (255.0 if X_test.dtype == np.uint8 else 1.0)  # the file takes [0, 1]
    images = images[:, None] if channels == 1 else images.transpose(0, 3, 1, 2)
    probabilities = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(images)})[0]
    return float(np.mean(clf.classes_[probabilities.argmax(1)] == y_test))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--skip-tasks", action="store_true")
    args = parser.parse_args()
    speed(args.repeats)
    if not args.skip_tasks:
        tasks(args.n_train)


if __name__ == "__main__":
    main()
