"""Packaging for prunefuse_sk."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "prunefuse_sk" / "_version.py").read_text(), re.M
).group(1)

EXTRAS = {
    "test": [
        "pytest>=7",
        "hypothesis>=6",
        "matplotlib>=3.5",
        "ipywidgets>=8",
        "nbformat>=5",
        "nbclient>=0.7",
        "ipykernel>=6",
        # tests/test_accelerate.py: skorch's AccelerateMixin nets on Accelerate's CPU backend
        "accelerate>=1.0",
        # tests/test_code_style.py validates every public docstring as scikit-learn's
        # test_docstrings.py does
        "numpydoc>=1.5",
        # .ci/run lints and checks the format (configured in pyproject.toml)
        "ruff>=0.5",
    ],
    # dask pools in query (arrays and DataFrames of features) and cells of simulate on a cluster
    "dask": ["dask[distributed,dataframe]>=2023.1"],
    # training the proxy and the fused net on several GPUs through skorch's AccelerateMixin
    "accelerate": ["accelerate>=1.0"],
    "jupyter": ["ipywidgets>=8", "matplotlib>=3.5"],
    "plot": ["matplotlib>=3.5"],
    # the docs build runs every examples/plot_*.py; plot_dask.py needs dask.distributed
    "docs": [
        "sphinx>=6",
        "numpydoc>=1.5",
        "sphinx-gallery>=0.14",
        "matplotlib>=3.5",
        "dask[distributed]>=2023.1",
        # examples/plot_pool_kinds.py queries a DataFrame pool
        "pandas>=1.5",
    ],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="prunefuse-sk",
    version=VERSION,
    description="Cheap deep active learning for scikit-learn/skorch: prune at init, select with "
    "the proxy, fuse back.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["prunefuse_sk", "prunefuse_sk.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.0",
        "skorch>=1.0",
        "scikit-learn>=1.3",
        "numpy>=1.23",
        "scipy>=1.9",
        # simulate(n_jobs=...) runs its (seed, method) cells as joblib tasks
        # (Parallel(return_as="generator"), joblib >= 1.3), so `joblib.parallel_backend("dask")`
        # runs a benchmark grid on a cluster.
        "joblib>=1.3",
        "torch-pruning>=1.6,<1.7",
        # prunefuse_sk itself never imports modAL either. It stays because the query-strategy
        # contract is modAL's (strategy(learner, X_pool, n_instances=1, **kw) -> indices or
        # (indices, scores)), users mix modAL's strategies in (docs/strategies_custom.rst,
        # examples/plot_modal_strategy.py), and the tests run modAL's strategies against the
        # learner (tests/test_strategies.py, tests/test_learner.py).
        "modAL-python>=0.4.1",
        "tqdm>=4.60",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["prunefuse-sk=prunefuse_sk.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
