"""What the displays share: matplotlib imported on demand, axes to draw into, images as arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["axes_grid", "check_true_labels", "require_matplotlib"]


def require_matplotlib(what):
    """Import ``matplotlib.pyplot`` or raise an ImportError that names the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(f"{what} needs matplotlib, an optional dependency: pip install "
                          '"sktransfer[plot]" (or pip install matplotlib).') from exc
    return plt


def check_true_labels(y, n, noun):
    """``y`` as an array of one true label per image or text (``noun``), or None; a ValueError otherwise."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y has shape {y.shape} for {n} {noun}s; pass one true label per {noun} (or y=None).")
    return y


def axes_grid(ax, n_panels, n_cols, what, panel_size=(2.2, 2.2)):
    """``(figure, axes array of shape (rows, cols))`` to draw ``n_panels`` panels into.

    ``ax`` is None (a new figure), one Axes (its area is divided into the
    grid, as scikit-learn's PartialDependenceDisplay does) or an array-like
    of exactly ``n_panels`` Axes.
    """
    plt = require_matplotlib(what)
    from matplotlib.axes import Axes

    n_cols = max(1, min(int(n_cols), n_panels))
    n_rows = -(-n_panels // n_cols)
    if ax is None:
        fig, axes = plt.subplots(n_rows, n_cols, squeeze=False, layout="constrained",
                                 figsize=(panel_size[0] * n_cols, panel_size[1] * n_rows))
    elif isinstance(ax, Axes):
        fig = ax.figure
        spec = ax.get_subplotspec().subgridspec(n_rows, n_cols)
        ax.set_axis_off()
        axes = np.array([[fig.add_subplot(spec[r, c]) for c in range(n_cols)] for r in range(n_rows)])
    else:
        flat = np.asarray(ax, dtype=object).ravel()
        if len(flat) != n_panels or not all(isinstance(a, Axes) for a in flat):
            raise ValueError(f"ax must be None, one matplotlib Axes or {n_panels} Axes (one per panel); got "
                             f"{len(flat)} object(s).")
        return flat[0].figure, flat.reshape(1, -1)
    for extra in axes.ravel()[n_panels:]:
        extra.set_axis_off()
    return fig, axes


def as_display_images(images):
    """uint8 batches from an ImageSet -> list of ``(H, W)`` or ``(H, W, 3)`` uint8 arrays for imshow."""
    out = []
    for batch in images.iter_batches(64):
        for image in (batch if isinstance(batch, list) else list(batch)):
            array = image.permute(1, 2, 0).numpy()
            out.append(array[:, :, 0] if array.shape[2] == 1 else array)
    return out
