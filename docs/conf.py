"""Sphinx configuration for the prunefuse_sk documentation.

Build with ``sphinx-build -b html docs docs/_build/html`` from the repository root
(after ``pip install -e .[docs]``).
"""

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

templates_path = []
exclude_patterns = ["_build", "README.md", "auto_examples/*.ipynb", "auto_examples/*.py"]
default_role = "obj"

# autodoc / autosummary
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"

# numpydoc: class pages list members through autosummary, not numpydoc's tables
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# sphinx-gallery
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}

html_theme = "alabaster"
html_theme_options = {
    "description": "Cheap deep active learning: prune at init, select with the proxy, fuse back.",
    "fixed_sidebar": True,
}
html_static_path = []
