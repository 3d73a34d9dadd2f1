"""Sphinx configuration of sktransfer's site: numpydoc API reference, MyST user guide, sphinx-gallery examples.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (needs ``pip install -e ".[docs]"``).

The API reference is generated at every build from the ``__all__`` of the
public modules listed in ``api_pages.PUBLIC_MODULES`` (into ``docs/api/``, not
kept in git): a name added to ``sktransfer.__all__`` gets its page without
anyone editing the docs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The gallery runs its examples inside this process, on a 2-core machine: one BLAS/OpenMP thread each
# (the examples set torch's threads themselves). Set before numpy and torch load.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the examples use offline weights only: fail fast otherwise

import sktransfer  # noqa: E402

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# --------------------------------------------------------------------------- the API pages

sys.path.insert(0, str(DOCS))
from api_pages import write_api_pages  # noqa: E402

write_api_pages(DOCS / "api")

# --------------------------------------------------------------------------- the project

project = "sktransfer"
author = "the sktransfer developers"
copyright = "the sktransfer developers"
release = sktransfer.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]

# Markdown pages: links to headings inside other pages (``finetuning.md#freeze-depth``).
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]

# --------------------------------------------------------------------------- API reference

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say it
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# --------------------------------------------------------------------------- the gallery

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Only the plot_*.py examples are the gallery (each runs in the build, in well under a minute);
    # examples/*.py without the prefix are the full-size scripts behind the user guide's figures.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sktransfer",),
    "reference_url": {"sktransfer": None},
    "capture_repr": ("_repr_html_", "__repr__"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}

# --------------------------------------------------------------------------- HTML

html_theme = "pydata_sphinx_theme"
html_title = f"sktransfer {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_show_sourcelink = False
html_copy_source = False
html_static_path = ["_static"]
html_css_files = ["custom.css"]

