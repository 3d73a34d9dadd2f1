"""The documentation site: every public name has an API page, the gallery ran with figures, and the pages
render in a headless browser.

The first tests need no build: they check the API reference's generator
(``docs/api_pages.py``) against ``sktransfer.__all__``. The others check a
built site, ``docs/_build/html`` (``python -m sphinx -W -b html docs
docs/_build/html``; CI builds it before the tests run). Without one they
skip, except in CI (``CI`` set), where a missing site is a failure; the
screenshots need Chromium (Debian's ``chromium``; CI installs it) and go to
``docs/_build/screenshots/``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sktransfer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SITE = DOCS / "_build" / "html"
SHOTS = DOCS / "_build" / "screenshots"
IN_CI = bool(os.environ.get("CI"))
MIN_GALLERY_EXAMPLES = 5


def _load_api_pages():
    spec = importlib.util.spec_from_file_location("sktransfer_docs_api_pages", DOCS / "api_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_pages = _load_api_pages()


# --------------------------------------------------------------------------- the generator, no build

def autosummary_entries(text):
    """The names listed in the autosummary tables of a generated page."""
    entries, inside = [], False
    for line in text.splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside and line.startswith("   ") and not line.strip().startswith(":"):
            entries.append(line.strip())
    return entries


def test_every_name_in_sktransfer_all_is_in_the_api_reference():
    pages = api_pages.api_pages()
    listed = set(autosummary_entries(pages["sktransfer.rst"]))
    assert listed == set(sktransfer.__all__), sorted(set(sktransfer.__all__) ^ listed)


def test_every_public_module_name_is_documented_once():
    pages = api_pages.api_pages()
    documented = api_pages.documented_names()
    for module, _ in api_pages.PUBLIC_MODULES:
        names = set(__import__(module, fromlist=["__all__"]).__all__)
        own = set(autosummary_entries(pages[f"{module}.rst"]))
        shared = {name for name in names if f"{module}.{name}" not in documented}
        # each name: a page of its own on its module's page, or the package root's page
        assert own | shared == names and not own & shared, module
        assert all(f"sktransfer.{name}" in documented for name in shared), module
        for name in shared:
            assert f":obj:`sktransfer.{name}`" in pages[f"{module}.rst"]
    assert "index.rst" in pages and all(f"   {module}" in pages["index.rst"] for module, _ in api_pages.PUBLIC_MODULES)


def test_the_generator_sees_a_new_name(monkeypatch):
    """A name added to __all__ later gets listed without editing the docs."""
    monkeypatch.setattr(sktransfer, "brand_new_function", lambda: None, raising=False)
    monkeypatch.setattr(sktransfer, "__all__", [*sktransfer.__all__, "brand_new_function"])
    assert "brand_new_function" in autosummary_entries(api_pages.api_pages()["sktransfer.rst"])
    assert "sktransfer.brand_new_function" in api_pages.documented_names()


# --------------------------------------------------------------------------- the built site

@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        if IN_CI:
            pytest.fail(f"no documentation site at {SITE}: CI builds it (README's docs-command) before the tests")
        pytest.skip("documentation site not built (python -m sphinx -W -b html docs docs/_build/html)")
    return SITE


def test_every_documented_name_has_a_page(site):
    missing = sorted(name for name in api_pages.documented_names() if not (site / "generated" / f"{name}.html").exists())
    assert not missing, f"no API page for {missing}: rebuild the site"
    for name in sktransfer.__all__:
        assert (site / "generated" / f"sktransfer.{name}.html").exists(), name


def test_api_pages_hold_the_numpydoc_sections(site):
    html = (site / "generated" / "sktransfer.FineTunedClassifier.html").read_text(encoding="utf-8")
    assert "Parameters" in html and "Attributes" in html and "trainable_blocks" in html
    html = (site / "generated" / "sktransfer.rank_backbones.html").read_text(encoding="utf-8")
    assert "Returns" in html


def test_every_user_guide_page_is_in_the_site(site):
    pages = sorted(p.stem for p in DOCS.glob("*.md"))
    assert {"install", "finetuning", "benchmark_results", "changelog", "user_guide"} <= set(pages)
    missing = [page for page in pages if not (site / f"{page}.html").exists()]
    assert not missing, missing
    guide = (site / "user_guide.html").read_text(encoding="utf-8")
    for page in pages:
        if page not in ("index", "install", "user_guide", "benchmark_results", "changelog"):
            assert f'href="{page}.html"' in guide, f"{page} is not in the user guide's table of contents"


def gallery_examples():
    return sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))


def test_the_gallery_ran_every_example_with_figures(site):
    examples = gallery_examples()
    assert len(examples) >= MIN_GALLERY_EXAMPLES
    index = (site / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for example in examples:
        page = site / "auto_examples" / f"{example}.html"
        assert page.exists(), example
        assert f"{example}.html" in index, example
        html = page.read_text(encoding="utf-8")
        figures = re.findall(rf'src="[^"]*images/sphx_glr_{example}_\d+\.png"', html)
        assert figures, f"{example}: no figure on its page"
        for src in figures:
            path = (page.parent / src[5:-1]).resolve()
            assert path.exists() and path.stat().st_size > 2_000, path
        assert "Total running time of the script" in html, example


# --------------------------------------------------------------------------- in a browser

def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if IN_CI:
        pytest.fail("no Chromium: CI installs Debian's chromium package (.ci/run)")
    pytest.skip("no Chromium to render the site with")


def browse(page, *args, timeout=90):
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--window-size=1280,1600", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


PAGES = ["index.html", "install.html", "finetuning.html", "api/index.html", "generated/sktransfer.FineTunedClassifier.html",
         "auto_examples/index.html", "auto_examples/plot_finetune_digits.html"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_in_a_headless_browser(site, page):
    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")
    shot.unlink(missing_ok=True)
    run = browse(site / page, f"--screenshot={shot}")
    assert shot.exists(), f"no screenshot of {page}: {run.stderr[-2000:]}"
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape == (1600, 1280, 3)
    # a rendered page, not a blank or an error page: text, the theme's colours, images
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    assert (image.min(axis=2) < 100).mean() > 0.005  # dark pixels: text
    print(f"screenshot of {page}: {shot}")


@pytest.mark.parametrize("page, expected", [
    ("generated/sktransfer.FineTunedClassifier.html", "FineTunedClassifier"),
    ("auto_examples/plot_finetune_digits.html", "Fine-tuning with the defaults"),
    ("user_guide.html", "Feature extraction"),
])
def test_the_rendered_dom_has_the_content(site, page, expected):
    """After the page's scripts ran (the theme builds its navigation in JavaScript), the text is there."""
    run = browse(site / page, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert expected in run.stdout and "bd-main" in run.stdout  # the theme's main column
