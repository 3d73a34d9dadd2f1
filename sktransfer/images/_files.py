"""Image files: checking paths up front, opening them safely, reading them batch by batch.

Paths are checked when ``X`` is given (empty strings, folders, missing
files); pixels are only decoded when a batch is read. :func:`open_image`
turns Pillow's decompression-bomb guard into an :class:`ImageTooLargeError`
naming the file, for this module and for the benchmark's folder loader.
"""

from __future__ import annotations

import os
import re
import stat

from ._pil import _pil_to_tensor
from ._set import ImageSet, _stack_if_uniform


class ImageTooLargeError(ValueError):
    """An image file above ``PIL.Image.MAX_IMAGE_PIXELS``; a ValueError, told apart by callers that list files.

    Raised by :func:`open_image` (and so when a batch of files is read), with
    a message naming the file and how to allow it.

    Examples
    --------
    >>> import os, tempfile
    >>> import PIL.Image
    >>> from sktransfer.images import ImageTooLargeError, open_image
    >>> path = os.path.join(tempfile.mkdtemp(), "small.png")
    >>> PIL.Image.new("L", (4, 3)).save(path)
    >>> limit, PIL.Image.MAX_IMAGE_PIXELS = PIL.Image.MAX_IMAGE_PIXELS, 5
    >>> try:
    ...     open_image(path)
    ... except ImageTooLargeError as exc:
    ...     print(isinstance(exc, ValueError), "MAX_IMAGE_PIXELS" in str(exc))
    ... finally:
    ...     PIL.Image.MAX_IMAGE_PIXELS = limit
    True True
    """


def _bomb_error(path, where, detail):
    """Pillow's decompression-bomb guard, with the file and the way to allow it."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return ImageTooLargeError(
        f"Image file {path!r}{where} is too large to open safely: {detail}, more than "
        f"PIL.Image.MAX_IMAGE_PIXELS = {limit:,} pixels, so Pillow refuses it as a possible decompression bomb "
        "(a small file that would fill memory when decoded). If you trust the file, allow it with "
        "`PIL.Image.MAX_IMAGE_PIXELS = None` (no limit) or a larger number before fitting; else remove it "
        "or resize it."
    )


def open_image(path, where=""):
    """``PIL.Image.open`` (lazy: the header only) with Pillow's size guard as a ValueError naming the file.

    Pillow raises ``DecompressionBombError`` above twice ``MAX_IMAGE_PIXELS``
    and only warns between once and twice; both are refused here, with the
    file name, so a huge file is never decoded by surprise.

    Parameters
    ----------
    path : str or path-like
        The image file.
    where : str, default=""
        Said after the file name in the error, e.g. ``" (X[3])"``.

    Returns
    -------
    image : PIL.Image.Image
        The opened file, pixels not decoded yet; use it as a context manager
        to close the file.

    Raises
    ------
    ImageTooLargeError
        When the header claims more than ``PIL.Image.MAX_IMAGE_PIXELS``
        pixels.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from sktransfer.images import open_image
    >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
    >>> Image.new("L", (4, 3)).save(path)
    >>> with open_image(path) as img:
    ...     img.size, img.mode
    ((4, 3), 'L')
    """
    from PIL import Image

    _refuse_special_file(path, where)  # Image.open would wait forever on a FIFO nobody writes to
    try:
        img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the warning under -W error
        claimed = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (400000000 pixels) exceeds..."
        detail = f"its header claims {int(claimed.group(1)):,} pixels" if claimed else str(exc).rstrip(".")
        raise _bomb_error(path, where, detail) from exc
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and img.size[0] * img.size[1] > limit:
        w, h = img.size
        img.close()
        raise _bomb_error(path, where, f"its header claims {w}x{h} = {w * h:,} pixels")
    return img


def _refuse_special_file(path, where):
    """A ValueError for a path to a FIFO, a device or a socket; anything else is left to ``Image.open``."""
    if not isinstance(path, (str, os.PathLike)):
        return  # a file object
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # missing, NUL...: Image.open says so
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise ValueError(f"Cannot open image file{where}: {_path_problem(os.fspath(path))}")


def _from_paths(X):
    paths = [str(os.fspath(p)) for p in X]  # str(): numpy's str_ items would show as np.str_('...')
    for i, path in enumerate(paths):
        if path == "":
            raise ValueError(f"X[{i}] is an empty string, not a file path. Drop it, or pass the image's path.")
        problem = _path_problem(path)
        if problem is not None:
            raise ValueError(f"X[{i}]: {problem}")

    def load(idx):
        from PIL import UnidentifiedImageError

        out = []
        for i in idx:
            try:
                with open_image(paths[i], f" (X[{i}])") as img:
                    out.append(_pil_to_tensor(img, f"{paths[i]!r} (X[{i}])"))
            except PermissionError as exc:  # not a format problem: re-saving would not help
                raise ValueError(f"X[{i}]: {_unreadable(paths[i])}") from exc
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(
                    f"Cannot read image file {paths[i]!r} (X[{i}]): {exc}. Re-save it in a format Pillow "
                    "reads (PNG, JPEG...) or remove it from X."
                ) from exc
        return _stack_if_uniform(out)

    return ImageSet(load, len(paths), "paths", None, None, paths=tuple(paths))


#: What ``os.stat`` calls files that are not regular, as said in the error (a FIFO or /dev/null is no image file).
_SPECIAL_FILES = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def _path_problem(path):
    """Why ``path`` is not an image file to read (problem and fix, for an error message), or None when it is one.

    Only ``os.stat`` is used, never ``open``: opening a FIFO for reading would
    block until something writes to it.
    """
    try:
        info = os.stat(path)
    except ValueError:  # an embedded NUL character: no file system has such a name
        return f"{path!r} contains a NUL character ('\\x00'), so it cannot name a file. Check how the path was built."
    except FileNotFoundError:
        if os.path.islink(path):
            return (f"{path!r} is a symbolic link to a missing file ({os.readlink(path)!r}). Fix or remove the "
                    "link, or pass the image file it should point to.")
        return (f"image file not found: {path!r}. Check the path; relative paths are taken from the working "
                f"directory {os.getcwd()!r}.")
    except OSError as exc:  # a path too long, a file used as a folder, a folder without access...
        return f"cannot look up {path!r} ({exc.strerror or exc}). Check the path and its folders' permissions."
    if stat.S_ISDIR(info.st_mode):
        return (f"{path!r} is a directory, not an image file. Pass the image files in it, e.g. "
                f"sorted(glob.glob(os.path.join({path!r}, '*.png'))); a folder with one sub-folder per class "
                "is a dataset for `sktransfer benchmark` (or sktransfer.benchmark.load_dataset).")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(info.st_mode)), "a special file")
        return (f"{path!r} is {kind}, not a regular file, so it holds no image to read. Pass the path of an "
                "image file (PNG, JPEG...); to use data from a pipe or a device, save it to a file first.")
    if not os.access(path, os.R_OK):
        return _unreadable(path)
    return None


def _unreadable(path):
    return (f"{path!r} cannot be read: permission denied. Give your user read access to it (e.g. chmod a+r) "
            "or pass a copy you can read.")
