"""Sphinx configuration for the prunefuse_sk documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` from the repository
root (after ``pip install -e .[docs]``). At the start of the build, ``write_cli_help`` writes
the ``--help`` text of ``prunefuse-sk`` and of each of its sub-commands to ``docs/_generated/``
(git-ignored), which ``cli.rst`` includes: the options page is the parser's own text.
"""

import importlib.util
import os
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
    "_generated",
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


GENERATED = HERE / "_generated"
CLI_HELP_WIDTH = 88  # columns of the generated help, whatever the terminal of the build


def cli_help_texts():
    """``{file name: --help text}`` of ``prunefuse-sk`` and of each sub-command.

    ``cli_help.txt`` is the top level, ``cli_help_<command>.txt`` a sub-command,
    for every sub-command ``prunefuse_sk.cli.build_parser()`` defines.
    """
    from prunefuse_sk.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(CLI_HELP_WIDTH)  # argparse wraps to $COLUMNS
    try:
        parser = build_parser()
        texts = {"cli_help.txt": parser.format_help()}
        commands = parser._subparsers._group_actions[0].choices
        for name, command in commands.items():
            texts[f"cli_help_{name}.txt"] = command.format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return texts


def write_cli_help(directory=GENERATED):
    """Write :func:`cli_help_texts` to ``directory``; rewrite a file only if its text changed."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in cli_help_texts().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Skip the ``set_*_request`` methods scikit-learn generates for metadata routing."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", lambda app: write_cli_help())
    app.connect("autodoc-skip-member", skip_metadata_request_methods)


html_theme = "alabaster"
html_theme_options = {
    "description": "Cheap deep active learning: prune at init, select with the proxy, fuse back.",
    "fixed_sidebar": True,
}
html_static_path = []
