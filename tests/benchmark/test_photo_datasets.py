"""The photograph datasets ("photos", "textures", "faces"), fixed test sets, and folders of colour photos."""

import numpy as np
import pytest
from PIL import Image

from sktransfer.benchmark import BUILTIN_DATASETS, Dataset, load_dataset, run_benchmark
from sktransfer.benchmark.__main__ import main
from sktransfer.benchmark._splits import check_test_size, combine_domains, iter_splits, make_split
from sktransfer.benchmark.photos import (PHOTO_CLASSES, TEXTURE_CLASSES, _crops, photo_crops, texture_crops,
                                         textures)

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


# ----------------------------------------------------------------------------- the datasets


def _per_class(y, rows):
    return dict(zip(*np.unique(y[rows], return_counts=True)))


def test_photos_is_a_pool_of_60_and_a_fixed_test_set_of_30_crops_per_photograph():
    ds = load_dataset("photos")
    assert ds.name == "photos" and ds.X.shape == (720, 160, 160, 3) and ds.X.dtype == np.uint8
    assert ds.image_shape == (160, 160) and ds.channels == 3 and sorted(ds.classes) == sorted(PHOTO_CLASSES)
    assert ds.test_mask.dtype == bool and ds.test_mask.shape == (720,)
    assert set(_per_class(ds.y, ~ds.test_mask).values()) == {60}
    assert set(_per_class(ds.y, ds.test_mask).values()) == {30}
    # deterministic: the first crop is the first draw of seed 0, from the astronaut's training half
    first, label = photo_crops(1, "train", size=160, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(ds.X[0], np.round(first[0] * 255).astype(np.uint8))
    assert ds.y[0] == label[0] == "astronaut" and "fixed test set of 30 per class" in ds.description
    ds.X[:] = 0  # each load is its own copy
    again = load_dataset("photos")
    assert again.X.max() > 0 and np.array_equal(again.test_mask, ds.test_mask)
    assert len({again.X[i].tobytes() for i in range(0, 720, 7)}) == len(range(0, 720, 7))  # no two crops alike


def test_textures_and_faces():
    ds = load_dataset("textures")
    assert ds.X.shape == (450, 64, 64) and ds.channels == 1 and ds.classes.tolist() == list(TEXTURE_CLASSES)
    assert set(_per_class(ds.y, ~ds.test_mask).values()) == {100}
    assert set(_per_class(ds.y, ds.test_mask).values()) == {50}
    assert [t.shape for t in textures()] == [(512, 512)] * 3
    faces = load_dataset("faces")
    assert faces.X.shape == (200, 25, 25) and faces.X.dtype == np.float32 and faces.test_mask is None
    assert 0.0 <= faces.X.min() and faces.X.max() <= 1.0 and faces.channels == 1
    assert faces.y[:100].tolist() == ["face"] * 100 and faces.y[100:].tolist() == ["non-face"] * 100
    assert {"photos", "textures", "faces"} <= set(BUILTIN_DATASETS)


@pytest.mark.parametrize("shape", [(40, 60), (60, 40)], ids=["wide", "tall"])
def test_training_and_test_crops_come_from_halves_that_share_no_pixel(shape):
    # The first half (left, or top) black, the second white: every training crop black, every test crop white.
    image = np.zeros(shape, np.uint8)
    if shape[1] >= shape[0]:
        image[:, shape[1] // 2:] = 255
    else:
        image[shape[0] // 2:] = 255
    train, _ = _crops([image], ["a"], 20, "train", 8, random_state=0)
    test, _ = _crops([image], ["a"], 20, "test", 8, random_state=0)
    assert train.max() == 0.0 and test.min() == 1.0


def test_crops_are_random_but_reproducible_and_check_their_arguments():
    a, y = texture_crops(3, "train", size=16, random_state=5)
    b, _ = texture_crops(3, "train", size=16, random_state=5)
    c, _ = texture_crops(3, "train", size=16, random_state=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and y.tolist() == ["brick"] * 3 + ["grass"] * 3 + ["gravel"] * 3
    with pytest.raises(ValueError, match="part='val' is not 'train' or 'test'"):
        photo_crops(1, "val")
    with pytest.raises(ValueError, match=r"n_per_class \(0\) must be >= 1"):
        texture_crops(0)


# ----------------------------------------------------------------------------- fixed test sets


@pytest.fixture()
def fixed():
    """30 digits of 3 classes, the last 3 of each class marked as the fixed test set."""
    digits = load_dataset("digits")
    keep = np.concatenate([np.flatnonzero(digits.y == c)[:10] for c in range(3)])
    mask = np.tile(np.arange(10) >= 7, 3)
    return Dataset("fixed", digits.X[keep], digits.y[keep], "30 digits, 9 fixed for testing", (8, 8), 1, mask)


def test_a_fixed_test_set_is_every_seeds_test_set(fixed):
    splits = list(iter_splits(fixed, [2, "all"], n_seeds=3, test_size=0.3))
    masked, unmasked = np.flatnonzero(fixed.test_mask), np.flatnonzero(~fixed.test_mask)
    assert [(s.seed, s.size) for s in splits] == [(0, 2), (0, "all"), (1, 2), (1, "all"), (2, 2), (2, "all")]
    for split in splits:
        np.testing.assert_array_equal(split.test, masked)
        assert not set(split.train) & set(split.test)
        np.testing.assert_array_equal(np.sort(np.concatenate([split.train, split.pool])), unmasked)
    assert len(splits[0].train) == 6 and len(splits[1].train) == 21  # 2 per class; the whole pool: 7 per class
    assert set(splits[0].train) < set(splits[1].train)  # nested
    assert set(splits[0].train) != set(splits[2].train)  # the seed shuffles the pool


def test_a_fixed_test_set_that_leaves_a_class_out_is_an_error(fixed):
    y = fixed.y
    lacking = fixed.test_mask & (y != 2)  # class 2 is never tested
    with pytest.raises(ValueError, match=r"leaves class\(es\) without images: 2 \(test\)"):
        make_split(y, 0.3, seed=0, test_mask=lacking)
    everything = fixed.test_mask | (y == 1)  # class 1 has no training image
    with pytest.raises(ValueError, match=r"1 \(training\).*mark some of each as test"):
        check_test_size(y, 0.3, test_mask=everything)
    with pytest.raises(ValueError, match=r"one bool per image, shape \(30,\); got bool of shape \(29,\)"):
        make_split(y, 0.3, seed=0, test_mask=fixed.test_mask[1:])
    bad = Dataset("bad", fixed.X, y, "", (8, 8), 1, lacking)
    with pytest.raises(ValueError, match="without images"):  # before any work
        run_benchmark(bad, methods=["pixels"], labels_per_class=[2], n_seeds=1, output_dir=None, verbose=0)


def test_the_benchmark_uses_the_fixed_test_set_and_refuses_a_test_size(fixed):
    result = run_benchmark(fixed, methods=["pixels"], labels_per_class=[2], n_seeds=2, cv=2, output_dir=None,
                           verbose=0)
    assert [r["n_test"] for r in result.runs] == [9, 9] and result.config["test_size"] == "3 fixed images"
    assert "test set 3 fixed images of each class" in str(result)
    with pytest.raises(ValueError, match=r"'fixed' has a fixed test set \(3 fixed images per class.*"
                                         r"test_size=0.3 \(--test-size\) cannot apply. Drop test_size"):
        run_benchmark(fixed, methods=["pixels"], test_size=float("0.3"), output_dir=None, verbose=0)


def test_the_command_line_refuses_a_test_size_for_photos(capsys):
    with pytest.raises(SystemExit) as info:
        main(["photos", "--methods", "pixels", "--test-size", "0.2", "--output-dir", "unused", "--quiet"])
    assert info.value.code == 2 and "--test-size) cannot apply" in capsys.readouterr().err


def test_in_domain_mode_the_targets_fixed_test_set_is_kept_and_the_sources_left_out(fixed):
    inverted = Dataset("inverted", 1.0 - fixed.X, fixed.y, "inverted", (8, 8), 1, fixed.test_mask)
    both, n_source = combine_domains(fixed, inverted)
    assert n_source == 21 and len(both) == 51  # the source's 9 fixed test images are never trained on
    np.testing.assert_array_equal(both.test_mask, np.concatenate([np.zeros(21, bool), fixed.test_mask]))
    split = next(iter_splits(both, [2], n_seeds=1, test_size=0.3, n_source=n_source))
    np.testing.assert_array_equal(split.test, np.flatnonzero(fixed.test_mask) + 21)
    np.testing.assert_array_equal(split.pool, np.flatnonzero(~fixed.test_mask) + 21)
    assert split.train.max() < 21


# ----------------------------------------------------------------------------- through the benchmark


def test_the_classical_methods_on_textures():
    result = run_benchmark("textures", methods=["pixels", "lbp"], labels_per_class=[10], n_seeds=1, output_dir=None,
                           verbose=0)
    scores = {r["method"]: r["accuracy"] for r in result.runs}
    assert all(r["n_test"] == 150 and r["n_train"] == 30 for r in result.runs)
    assert scores["lbp"] > 0.8 and scores["lbp"] > scores["pixels"]  # texture: LBP's task, not raw pixels'


def test_a_folder_of_colour_photos_of_two_sizes(tmp_path, read_csv):
    rng = np.random.RandomState(0)
    for label, colour in (("red", 0), ("blue", 2)):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(6):
            size = (48, 36) if i % 2 else (30, 40)  # (width, height): landscape and portrait
            pixels = rng.randint(0, 90, (size[1], size[0], 3)).astype(np.uint8)
            pixels[..., colour] += 150
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{i}.png")
    ds = load_dataset(tmp_path / "photos")
    assert ds.channels == 3 and ds.image_shape == (40, 30) and ds.test_mask is None
    out = tmp_path / "out"
    result = run_benchmark(tmp_path / "photos", methods=["pixels", "hog", "lbp"], labels_per_class=[2, "all"],
                           n_seeds=1, cv=2, test_size=0.33, output_dir=out, plot=False, verbose=0)
    rows = read_csv(out / "photos_runs.csv")
    assert [(r["method"], r["labels_per_class"]) for r in rows] == [
        (m, s) for s in ("2", "all") for m in ("pixels", "hog", "lbp")]
    assert all(r["n_test"] == 4 for r in result.runs)
    pixels = [r["accuracy"] for r in result.runs if r["method"] == "pixels"]
    assert pixels == [1.0, 1.0]  # the colour tells the classes apart: the photos reached the SVM in colour
