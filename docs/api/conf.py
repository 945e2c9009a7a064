"""Sphinx configuration for the torchlinear API reference (built from the docstrings).

Build: ``python -m sphinx -W --keep-going -b html docs/api build/api``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# document this tree's sources, not whatever copy of the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

project = "torchlinear"
author = "torchlinear contributors"
copyright = "torchlinear contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

# numpydoc docstrings, read by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

autosummary_generate = False  # the module pages are written by hand below
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "alabaster"
exclude_patterns = ["_build"]


def _defined_by_sklearn(obj):
    """Whether ``obj`` (a method, property or classmethod) is scikit-learn's own code."""
    target = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    return (getattr(target, "__module__", None) or "").split(".")[0] == "sklearn"


def _skip_sklearn_members(app, what, name, obj, skip, options):
    # The estimator pages list inherited members (torchlinear's mixins define predict,
    # summary, ...), but scikit-learn's own (get_params, score, set_*_request for metadata
    # routing, ...) are its API, documented there, and their docstrings point into its
    # glossary.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if _defined_by_sklearn(obj):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
