"""Folders the library writes to: the one check that a folder can be written, made before long work."""

from __future__ import annotations

import os
import tempfile

__all__ = ["check_writable_folder"]


def check_writable_folder(path):
    """Create ``path`` if needed and write a temporary file in it; raise ``OSError`` when that fails.

    Called before long work (a cache, a benchmark's results), so that a
    folder that cannot be written fails at once rather than at the end.

    Examples
    --------
    >>> import tempfile
    >>> from sktransfer._files import check_writable_folder
    >>> check_writable_folder(tempfile.mkdtemp())
    >>> try:
    ...     check_writable_folder("/proc/no-folder-here")
    ... except OSError as exc:
    ...     print(exc.strerror)
    No such file or directory
    """
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
        pass
