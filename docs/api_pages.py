"""The API reference's pages, generated from the public modules' ``__all__`` (conf.py writes them at every build).

A name added to ``sktransfer.__all__`` (or to a public module's) gets its page
without anyone editing the docs; a new public module needs a line in
:data:`PUBLIC_MODULES`. A name the package root re-exports is documented once,
as ``sktransfer.<name>``; its module's page links to it. Each name is listed in
an ``autosummary`` table, which generates its page under ``docs/generated/``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

#: The modules whose ``__all__`` is the public API, in the order of the reference, with a line each.
PUBLIC_MODULES = (
    ("sktransfer", "Estimators, displays and functions of the package root."),
    ("sktransfer.inspection", "What a fitted network looks at, and whether the maps mean it."),
    ("sktransfer.metrics", "Scorers for data with unlabelled images."),
    ("sktransfer.ranking", "Which backbone, which layer: transferability scores from frozen features."),
    ("sktransfer.export", "Weights and configuration, loadable without running code."),
    ("sktransfer.backbones", "The registry of pretrained backbones, and custom ones."),
    ("sktransfer.text", "The text input layer: texts validated, tokenised once and batched with dynamic padding."),
    ("sktransfer.benchmark", "The ``sktransfer benchmark`` command from Python."),
    ("sktransfer.dask", "Grid searches and feature extraction on a Dask cluster."),
)

TEMPLATES = {"class": "class.rst", "function": "function.rst", "data": "data.rst"}


def public_names(module_name):
    """``[(name, kind, owner)]`` for each name in the module's ``__all__``.

    ``kind`` is ``"class"``, ``"function"`` or ``"data"``; ``owner`` is ``"sktransfer"`` when the
    package root exports the same object (documented there), else the module itself.
    """
    root = importlib.import_module("sktransfer")
    module = importlib.import_module(module_name)
    exported = {name: getattr(root, name) for name in root.__all__}
    names = []
    for name in module.__all__:
        obj = getattr(module, name)
        kind = "class" if isinstance(obj, type) else "function" if callable(obj) else "data"
        owner = module_name
        if module_name != "sktransfer" and name in exported and exported[name] is obj:
            owner = "sktransfer"
        names.append((name, kind, owner))
    return names


def documented_names():
    """Every fully qualified name that gets a page: ``{"sktransfer.FineTunedClassifier", ...}``."""
    return {f"{module}.{name}" for module, _ in PUBLIC_MODULES for name, _, owner in public_names(module)
            if owner == module}


def _underline(text, char):
    return f"{text}\n{char * len(text)}\n"


def module_page(module_name):
    """The reST of one module's reference page: its docstring, then an autosummary table per kind."""
    lines = [f".. _api-{module_name}:\n", _underline(module_name, "="),
             f".. automodule:: {module_name}\n   :no-members:\n   :no-index:\n",
             f".. currentmodule:: {module_name}\n"]
    names = public_names(module_name)
    for kind, title in (("class", "Classes"), ("function", "Functions"), ("data", "Data")):
        own = [name for name, k, owner in names if k == kind and owner == module_name]
        if own:
            lines += [_underline(title, "-"), ".. autosummary::", "   :toctree: ../generated/",
                      f"   :template: {TEMPLATES[kind]}", "   :nosignatures:", "",
                      *(f"   {name}" for name in own), ""]
    shared = [name for name, _, owner in names if owner != module_name]
    if shared:
        lines += [_underline("Also exported by the package root", "-"),
                  "These names are the same objects as the package root's, and documented there:\n",
                  ", ".join(f":obj:`sktransfer.{name}`" for name in shared) + "\n"]
    return "\n".join(lines)


def api_pages():
    """``{filename: reST}``: ``index.rst`` and one page per public module."""
    pages = {"index.rst": "\n".join([
        ".. _api:\n", _underline("API reference", "="),
        "Every public name of sktransfer, generated from the docstrings; the lists follow each "
        "public module's ``__all__``.\n",
        *(f"- :ref:`api-{name}`: {summary}" for name, summary in PUBLIC_MODULES), "",
        ".. toctree::", "   :hidden:", "", *(f"   {name}" for name, _ in PUBLIC_MODULES), ""])}
    for name, _ in PUBLIC_MODULES:
        pages[f"{name}.rst"] = module_page(name)
    return pages


def write_api_pages(out):
    """Write :func:`api_pages` into ``out`` (only files whose text changed), and remove stale pages."""
    out = Path(out)
    out.mkdir(exist_ok=True)
    pages = api_pages()
    for filename, text in pages.items():
        path = out / filename
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for stale in {p.name for p in out.glob("*.rst")} - set(pages):
        (out / stale).unlink()
