"""The order of the gallery: the first five minutes first, then the specialised examples.

``conf.py`` names :class:`ExampleOrder` as sphinx-gallery's ``within_subsection_order``.
"""

#: Examples listed here come first, in this order; any other ``examples/plot_*.py`` follows by name.
ORDER = (
    "plot_quickstart.py",
    "plot_finetune_digits.py",
    "plot_baselines_pandas.py",
    "plot_grid_search.py",
    "plot_regression_angle.py",
    "plot_explain_mnist.py",
    "plot_rank_layers.py",
    "plot_text_reviews.py",
)


class ExampleOrder:
    """Sort key of the examples of one gallery folder (sphinx-gallery passes the folder)."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename), filename) if filename in ORDER else (len(ORDER), filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
