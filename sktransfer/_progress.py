"""Progress bars that stay out of the way in logs and under verbose=0."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_bar(total, verbose, desc):
    """A tqdm bar when ``verbose`` and writing to a terminal, else None.

    ``tqdm(disable=None)`` turns itself off when stderr is not a TTY, so CI
    logs and notebooks piped to files stay clean.
    """
    if not verbose:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="img", disable=None, leave=False)
    try:
        yield bar
    finally:
        bar.close()
