"""The benchmark's datasets: Fashion-MNIST's idx files, image folders, .npz files, and their errors."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from sktransfer.__main__ import main as sktransfer_main
from sktransfer.benchmark import load_dataset, run_benchmark
from sktransfer.benchmark.datasets import FASHION_MNIST_CLASSES, FASHION_MNIST_ENV, fashion_mnist_dirs, read_idx

#: Where Debian's dataset-fashion-mnist puts the idx files (CI installs it, see .ci/run).
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------- fashion-mnist


def _idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.asarray(array, dtype=np.uint8).tobytes()


def _write_idx(path, array, code=0x08):
    data = _idx_bytes(array, code)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.fixture()
def fashion_dir(tmp_path, monkeypatch):
    """Fake idx files: 6 images of each of the 10 classes, shuffled; images plain, labels gzipped."""
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    rng = np.random.RandomState(0)
    y = rng.permutation(np.repeat(np.arange(10), 6))
    X = rng.randint(0, 256, size=(60, 28, 28)).astype(np.uint8)
    root = tmp_path / "fashion"
    root.mkdir()
    _write_idx(root / "train-images-idx3-ubyte", X)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y)
    return root, X, y


def test_fashion_mnist_from_a_data_dir(fashion_dir):
    root, X, y = fashion_dir
    ds = load_dataset("fashion-mnist", data_dir=root)
    assert ds.name == "fashion-mnist" and ds.image_shape == (28, 28) and ds.channels == 1
    assert ds.X.shape == (60, 28, 28) and ds.X.dtype == np.uint8
    np.testing.assert_array_equal(ds.X, X)  # all of them (fewer than 500 per class), in file order
    np.testing.assert_array_equal(ds.y, np.asarray(FASHION_MNIST_CLASSES)[y])
    assert ds.y[list(y).index(9)] == "Ankle boot" and "T-shirt/top" in set(ds.y)


def test_fashion_mnist_subset_is_the_first_of_each_class_in_file_order(fashion_dir, monkeypatch):
    from sktransfer.benchmark import datasets

    root, X, y = fashion_dir
    monkeypatch.setattr(datasets, "FASHION_MNIST_PER_CLASS", 2)
    ds = load_dataset("fashion-mnist", data_dir=root)
    keep = sorted(i for c in range(10) for i in np.flatnonzero(y == c)[:2])
    np.testing.assert_array_equal(ds.X, X[keep])
    assert set(np.unique(ds.y, return_counts=True)[1]) == {2} and len(np.unique(ds.y)) == 10
    np.testing.assert_array_equal(load_dataset("fashion-mnist", data_dir=root).X, ds.X)  # no seed involved


def test_fashion_mnist_gzipped_or_not_and_the_environment_variable(fashion_dir, tmp_path, monkeypatch):
    root, X, y = fashion_dir
    other = tmp_path / "other"
    other.mkdir()
    _write_idx(other / "train-images-idx3-ubyte.gz", X)
    _write_idx(other / "train-labels-idx1-ubyte", y)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(other))
    assert fashion_mnist_dirs()[0] == other and fashion_mnist_dirs(root) == [root]
    ds = load_dataset("fashion-mnist")
    assert str(other) in ds.description
    np.testing.assert_array_equal(ds.X, X)


def test_fashion_mnist_missing_files_say_where_and_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")  # the labels are still missing
    with pytest.raises(ValueError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    message = str(info.value)
    assert f"not found in {tmp_path}." in message  # only the folder given, not the defaults
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "https://github.com/zalandoresearch/fashion-mnist" in message and "--data-dir" in message
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path / "nowhere"))
    searched = [str(p) for p in fashion_mnist_dirs()]
    assert searched[0] == str(tmp_path / "nowhere") and searched[1] == "/usr/share/datasets/fashion-mnist"


def test_fashion_mnist_cli_data_dir(fashion_dir, tmp_path, capsys, read_csv):
    root, _, _ = fashion_dir
    out = tmp_path / "out"
    rc = sktransfer_main(["benchmark", "fashion-mnist", "--data-dir", str(root), "--methods", "pixels",
                          "--labels-per-class", "2", "--seeds", "1", "--output-dir", str(out), "--no-plot", "-q"])
    assert rc == 0 and "Fashion-MNIST: 60 images" in capsys.readouterr().out
    runs = read_csv(out / "fashion-mnist_runs.csv")
    assert len(runs) == 1 and runs[0]["n_train"] == "20" and runs[0]["n_test"] == "18"
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "fashion-mnist", "--data-dir", str(tmp_path / "empty"), "-q"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "were not found in" in err and "dataset-fashion-mnist" in err
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "digits", "--data-dir", str(root), "-q"])
    assert info.value.code == 2 and "only says where the 'fashion-mnist' idx files are" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"starts with nothing, expected 000008"),
        (b"P5\n28 28\n255\n", r"starts with 50350a32, expected 000008"),  # a PGM image, not idx
        (_idx_bytes(np.arange(3), code=0x0D), r"starts with 00000d01"),  # idx of floats
        (bytes([0, 0, 8, 3, 0, 0]), r"truncated: it ends inside its header \(6 of 16 bytes\)"),
        (_idx_bytes(np.arange(5))[:-2], r"truncated: its header announces shape \(5,\) \(5 values\) but it holds 3"),
        (_idx_bytes(np.arange(5)) + bytes(2), r"has trailing bytes: .*shape \(5,\) \(5 values\) but it holds 7"),
        (gzip.compress(_idx_bytes(np.arange(500)))[:-30], r"Cannot read idx file .*EOFError"),  # cut-off download
    ],
    ids=["empty", "not-idx", "floats", "short-header", "truncated", "trailing", "truncated-gzip"],
)
def test_read_idx_rejects_bad_files_naming_them(tmp_path, content, message):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "Download" in str(info.value)


def test_read_idx_shapes_and_gzip_by_content(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / "a-idx3-ubyte", images)), images)
    # gzip recognised by its magic number, whatever the name says
    (tmp_path / "b-idx3-ubyte").write_bytes(gzip.compress(_idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "b-idx3-ubyte"), images)


def test_fashion_mnist_files_that_do_not_match(fashion_dir):
    root, X, y = fashion_dir
    _write_idx(root / "train-labels-idx1-ubyte.gz", y[:-1])
    with pytest.raises(ValueError, match=r"does not hold the labels of .*expected 60 labels 0..9 .*shape \(59,\)"):
        load_dataset("fashion-mnist", data_dir=root)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y + 5)
    with pytest.raises(ValueError, match=r"largest label 14. Download both files again"):
        load_dataset("fashion-mnist", data_dir=root)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y)
    _write_idx(root / "train-images-idx3-ubyte", X[:, :8, :8])  # MNIST-like, but not 28x28
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte' holds an array of shape \(60, 8, 8\)"):
        load_dataset("fashion-mnist", data_dir=root)


@pytest.mark.skipif(not Path(DEBIAN_FASHION_MNIST).is_dir(),
                    reason=f"{DEBIAN_FASHION_MNIST} is absent: sudo apt-get install dataset-fashion-mnist "
                           "(CI installs it)")
def test_fashion_mnist_real_files_give_a_fixed_stratified_subset():
    ds = load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION_MNIST)
    assert ds.X.shape == (5000, 28, 28) and ds.X.dtype == np.uint8 and len(ds.y) == 5000
    names, counts = np.unique(ds.y, return_counts=True)
    assert sorted(names) == sorted(FASHION_MNIST_CLASSES) and set(counts) == {500}
    # the first 500 of each class of the 60,000 training labels, in file order
    labels = read_idx(next(Path(DEBIAN_FASHION_MNIST).glob("train-labels-idx1-ubyte*")))
    assert labels.shape == (60000,)
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:500] for c in range(10)]))
    np.testing.assert_array_equal(ds.y, np.asarray(FASHION_MNIST_CLASSES)[labels[keep]])
    assert ds.y[0] == "Ankle boot"  # the first training image of Fashion-MNIST is an ankle boot
    np.testing.assert_array_equal(load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION_MNIST).X, ds.X)
    assert 0.2 < ds.X.mean() / 255 < 0.4  # real clothing on black, not noise or a blank file


# ----------------------------------------------------------------------------- other datasets


def test_image_folder_end_to_end(image_folder, tmp_path, read_csv):
    ds = load_dataset(image_folder)
    assert len(ds) == 24 and sorted(set(ds.y)) == ["one", "two", "zero"]
    assert all(str(p).endswith(".png") for p in ds.X)  # paths: read lazily
    out = tmp_path / "out"
    result = run_benchmark(image_folder, methods=["pixels", "hog"], labels_per_class=[2, "all"], n_seeds=1,
                           cv=2, output_dir=out, verbose=0)
    runs = read_csv(out / "folder_runs.csv")
    assert len(runs) == 4 and all(0 <= float(r["accuracy"]) <= 1 for r in runs)
    assert result.config["n_classes"] == 3 and (out / "folder_learning_curve.png").exists()


def test_npz_with_flattened_images_and_mnist(tmp_path, digits):
    X, y = digits
    path = tmp_path / "flat.npz"
    np.savez(path, X=X[:60], y=y[:60])
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8\)"):
        load_dataset(path)
    ds = load_dataset(path, input_shape=(8, 8))
    assert ds.X.shape == (60, 8, 8) and ds.image_shape == (8, 8)
    mnist = load_dataset("mnist")
    assert mnist.X.shape == (5000, 28, 28) and 0.99 < mnist.X.max() <= 1.0 and len(mnist.classes) == 10


# ----------------------------------------------------------------------------- bad input


def test_folder_with_one_class(tmp_path, digits, write_png):
    write_png(tmp_path / "only" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"at least 2 classes; found only 'only'.*own sub-folder"):
        load_dataset(tmp_path)


def test_folder_with_an_empty_class(image_folder):
    (image_folder / "three").mkdir()
    with pytest.raises(ValueError, match=r"'three' hold no images.*remove the empty folder"):
        load_dataset(image_folder)


def test_folder_with_an_unreadable_image(image_folder):
    (image_folder / "one" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"1 file\(s\) cannot be read as images: .*broken\.png.*re-save"):
        load_dataset(image_folder)


def test_class_with_a_single_image(tmp_path):
    path = tmp_path / "few.npz"
    np.savez(path, X=np.zeros((5, 8, 8), np.uint8), y=np.array([0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match=r"class\(es\) 2 \(1\) have fewer than 2 images"):
        load_dataset(path)


def test_npz_mismatched_or_missing_arrays(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.zeros((10, 8, 8), np.uint8), y=np.arange(9) % 2)
    with pytest.raises(ValueError, match="X holds 10 images but y holds 9 labels"):
        load_dataset(bad)
    missing = tmp_path / "missing.npz"
    np.savez(missing, images=np.zeros((10, 8, 8), np.uint8), y=np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"no X: save images as X and labels as y"):
        load_dataset(missing)
    floats = tmp_path / "floats.npz"
    np.savez(floats, X=np.full((4, 8, 8), 16.0), y=np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"floats in \[16, 16\].*X / 16.0"):
        load_dataset(floats)
    notnpz = tmp_path / "data.csv"
    notnpz.write_text("1,2")
    with pytest.raises(ValueError, match="not an .npz"):
        load_dataset(notnpz)
