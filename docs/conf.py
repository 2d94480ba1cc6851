"""Sphinx configuration of the fieldgrad documentation (build: ``uv run sphinx-build -W -b html docs docs/_build``)."""

from __future__ import annotations

import sys
from pathlib import Path

import sphinx_autosummary_accessors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fieldgrad

project = "fieldgrad"
author = "the fieldgrad developers"
copyright = "the fieldgrad developers"
release = fieldgrad.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_autosummary_accessors",
]

templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = ["_build", "generated/*.md", "make_figures.py"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say it; the signatures stay readable
autodoc_default_options = {"members": False}

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

html_theme = "furo"
html_title = f"fieldgrad {release}"
html_static_path = ["_static"]
html_show_sourcelink = False

# no network at build time: no intersphinx, and xarray / numpy names stay plain text
nitpicky = False
