"""Sphinx configuration of the numhom documentation site (built by ``./run docs``).

The API pages and the demo pages are generated at build time (``_ext/numhom_pages.py``) from the
packages' ``__all__`` and from ``demos/*.py``; the results pages include the committed results
READMEs. Nothing is executed except importing the packages: the demos' figures and tables are
the committed files under ``demos/results/``.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

project = "numhom"
author = "the numhom developers"
copyright = "the numhom developers"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_copybutton",
    "numhom_pages",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
# The site is built offline (CI unshares the network): no intersphinx inventories, and MathJax
# is referenced from its usual CDN only by the pages a reader opens.
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = "numhom"
html_static_path = []
html_show_sourcelink = False
