"""The ImageSet: a validated, lazily loaded collection of images, read batch by batch.

Every input form ends as an :class:`ImageSet` around a ``loader(indices)``
that returns uint8 tensors; this module holds the class (subsets, batches,
background prefetch for files) and the two helpers the loaders share to
assemble a batch: stack same-sized images, and tell whether all images
share one size.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


class ImageSet:
    """A validated, lazily loaded collection of images.

    Build one with :func:`as_image_set`; do not call the constructor directly.

    Parameters
    ----------
    loader : callable
        ``loader(indices) -> uint8 tensor (B, C, H, W) or list of (C, H, W)``.
    n_images : int
        Number of images.
    kind : str
        Where the images come from: ``"array"``, ``"tensor"``, ``"list"`` or
        ``"paths"``.
    channels : int or None
        Channels per image when known without reading files.
    image_shape : tuple of int or None
        ``(H, W)`` when every image has the same size and it is known up front.
    paths : tuple of str or None, default=None
        The image files, in order, when the images are read from files
        (whatever container held the paths: list, array, pandas Series...);
        None otherwise. What a cache keys a file's content on.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.images import as_image_set
    >>> images = as_image_set(np.zeros((5, 8, 8), dtype=np.uint8))
    >>> len(images), images.image_shape
    (5, (8, 8))
    >>> next(images.iter_batches(batch_size=4)).shape
    torch.Size([4, 1, 8, 8])
    >>> images.paths is None  # pixels, not files
    True
    """

    def __init__(self, loader, n_images, kind, channels, image_shape, paths=None):
        self._loader = loader
        self.n_images = n_images
        self.kind = kind
        self.channels = channels
        self.image_shape = image_shape
        self.paths = paths

    def __len__(self):
        return self.n_images

    def load(self, indices):
        """Load the images at ``indices`` (a sequence of ints) as uint8.

        Examples
        --------
        >>> import torch
        >>> from sktransfer.images import as_image_set
        >>> batch = as_image_set(torch.zeros(3, 1, 2, 2)).load([2, 0])
        >>> batch.shape, batch.dtype
        (torch.Size([2, 1, 2, 2]), torch.uint8)
        """
        return self._loader(np.asarray(indices, dtype=np.int64))

    def subset(self, indices):
        """The images at ``indices``, as an :class:`ImageSet` that loads them lazily too.

        Examples
        --------
        >>> import numpy as np
        >>> from sktransfer.images import as_image_set
        >>> images = as_image_set(np.arange(4, dtype=np.uint8).reshape(4, 1, 1))
        >>> images.subset([3, 1]).load([0, 1]).flatten().tolist()
        [3, 1]
        """
        indices = np.asarray(indices, dtype=np.int64)
        paths = None if self.paths is None else tuple(self.paths[i] for i in indices)
        return ImageSet(lambda idx: self._loader(indices[idx]), len(indices), self.kind, self.channels,
                        self.image_shape, paths)

    def typical_shape(self):
        """``(H, W)`` of the images, or of the first one when their sizes differ or are unknown.

        What size-dependent defaults (``image_size="auto"``, ``layer="auto"``)
        look at; reads one file at most.

        Examples
        --------
        >>> import numpy as np
        >>> from sktransfer.images import as_image_set
        >>> as_image_set([np.zeros((4, 6)), np.zeros((5, 5))]).typical_shape()
        (4, 6)
        """
        if self.image_shape is not None:
            return tuple(self.image_shape)
        first = self.load([0])
        return tuple((first[0] if isinstance(first, list) else first[0]).shape[-2:])

    def iter_batches(self, batch_size, indices=None, prefetch=None):
        """Yield batches of uint8 images in order.

        Parameters
        ----------
        batch_size : int
            Images per batch.
        indices : array-like of int, default=None
            Subset and order of images; all images when None.
        prefetch : bool, default=None
            Read the next batch in a background thread while the current one
            is used. Defaults to True for file paths, where decoding is the
            bottleneck, and False otherwise.

        Yields
        ------
        batch : torch.Tensor or list of torch.Tensor
            ``uint8`` tensor ``(B, C, H, W)`` when the images share a size,
            else a list of ``(C, H, W)`` tensors.

        Examples
        --------
        >>> import numpy as np
        >>> from sktransfer.images import as_image_set
        >>> images = as_image_set(np.zeros((5, 8, 8), dtype=np.uint8))
        >>> [len(batch) for batch in images.iter_batches(batch_size=2)]
        [2, 2, 1]
        """
        if indices is None:
            indices = np.arange(self.n_images)
        chunks = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
        if prefetch is None:
            prefetch = self.kind == "paths"
        if not prefetch or len(chunks) < 2:
            for chunk in chunks:
                yield self.load(chunk)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.load, chunks[0])
            for chunk in chunks[1:]:
                batch = pending.result()
                pending = pool.submit(self.load, chunk)
                yield batch
            yield pending.result()


def _stack_if_uniform(tensors):
    shapes = {tuple(t.shape) for t in tensors}
    return torch.stack(tensors) if len(shapes) == 1 else list(tensors)


def _common_size(sizes):
    sizes = {tuple(int(s) for s in size) for size in sizes}
    return sizes.pop() if len(sizes) == 1 else None
