"""Sphinx configuration of the fastml docs site.

Build: ``pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
Pages are organised as the course (one folder per chapter, one page per algorithm);
``_ext/`` holds the two local extensions: ``fastml_bench`` (the ``fastml-bench`` directive:
benchmark plots from the committed results in ``benchmarks/results/``) and ``fastml_api``
(checks that the API pages in ``api/`` list every public name).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# Gallery examples read this and run shortened (fewer epochs/steps, smaller data), so the
# whole gallery executes in a few minutes at build time.
os.environ["FASTML_EXAMPLE_QUICK"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import fastml  # noqa: E402

project = "fastml"
author = "the fastml developers"
copyright = "the fastml developers"
release = version = fastml.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # serves MathJax 3 from _static/mathjax: no CDN
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "fastml_bench",
    "fastml_api",
    "fastml_docstrings",
]

exclude_patterns = ["_build", "**/README.rst", "CONTRIBUTING_PAGES.md", "Thumbs.db",
                    ".DS_Store", "sg_execution_times.rst"]
templates_path = []
nitpicky = False
suppress_warnings = []

# --- API pages --------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

# --- math: MathJax 3, local copy ----------------------------------------------------------
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

# --- gallery -------------------------------------------------------------------------------
# Every example executes (filename_pattern matches all); helpers starting with "_" are not
# examples. FASTML_DOCS_EXAMPLES (a regex on the path) narrows the set for quick local builds.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": os.environ.get("FASTML_DOCS_EXAMPLES", r"/[^_][^/]*\.py$"),
    "ignore_pattern": r"(^|/)_[^/]*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
}

# Outputs of a helper module from a build before it was ignored (sphinx-gallery keeps
# generated files whose source is no longer an example).
for _stale in (HERE / "auto_examples").glob("_*"):
    _stale.unlink()

# --- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fastml {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": [],
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_favicon = "_static/favicon.png"
html_show_sourcelink = False
html_copy_source = False
