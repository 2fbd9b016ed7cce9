"""Sphinx configuration for the prunefuse_sk documentation.

Build with ``sphinx-build -b html docs docs/_build/html`` from the repository root
(after ``pip install -e .[docs]``).
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # document the checkout, even if not installed

import prunefuse_sk  # noqa: E402

project = "prunefuse_sk"
author = "prunefuse_sk developers"
copyright = "2026, prunefuse_sk developers"
version = release = prunefuse_sk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_templates",
    "README.md",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
default_role = "obj"

# autodoc / autosummary
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
# an undocumented override (e.g. a network's forward) should not show the base class's text
autodoc_inherit_docstrings = False

# numpydoc: class pages list members through autosummary, not numpydoc's tables
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# sphinx-gallery: the examples only print, so matplotlib (in the docs extra) is
# optional; without it, do not ask sphinx-gallery to scrape or reset figures.
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "write_computation_times": False,  # no untracked docs/sg_execution_times.rst
    "image_scrapers": ("matplotlib",) if HAVE_MATPLOTLIB else (),
    "reset_modules": ("matplotlib",) if HAVE_MATPLOTLIB else (),
}


def skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Skip the ``set_*_request`` methods scikit-learn generates for metadata routing."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_metadata_request_methods)


html_theme = "alabaster"
html_theme_options = {
    "description": "Cheap deep active learning: prune at init, select with the proxy, fuse back.",
    "fixed_sidebar": True,
}
html_static_path = []
