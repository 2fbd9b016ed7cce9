"""Docs that cannot drift: what the documentation says where the code can check it."""

import configparser
import importlib.util
import re
import unicodedata
from pathlib import Path

from prunefuse_sk.cli import build_parser
from prunefuse_sk.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCREENSHOT_SCRIPT = DOCS / "make_widget_screenshot.sh"
# servers that show a notebook's live widgets, as a script starts them and as prose names them
SERVERS = {
    "voila": r"\bvoila\b",
    "jupyterlab": r"\bjupyter[\s-]?lab\b",
    "notebook": r"\bjupyter[\s-]notebook\b|\bnbclassic\b",
}


def _docs_conf():
    """``docs/conf.py`` as a module (it generates nothing when imported)."""
    spec = importlib.util.spec_from_file_location("prunefuse_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subcommands():
    return build_parser()._subparsers._group_actions[0].choices


def _plain(text):
    """Lower case without accents: "Voilà" reads "voila"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _blocks(text):
    """Paragraphs and literal blocks: text between blank lines."""
    return [block for block in re.split(r"\n\s*\n", text) if block.strip()]


def test_the_docs_build_command_is_tox_inis():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    expected = tox["testenv:docs"]["commands"].strip()
    assert expected.startswith("sphinx-build ")
    found = {}
    for name in ("README.md", "CONTRIBUTING.md", "docs/conf.py"):
        text = (ROOT / name).read_text(encoding="utf-8")
        found[name] = [m.strip() for m in re.findall(r"sphinx-build\s+[^`\n]+", text)]
    assert found["README.md"], "README.md shows no sphinx-build command"
    assert {name: [c for c in commands if c != expected] for name, commands in found.items()} == {
        name: [] for name in found
    }


def test_the_cli_page_includes_the_generated_help_of_every_subcommand(tmp_path):
    conf = _docs_conf()
    texts = conf.cli_help_texts()
    expected = {"cli_help.txt"} | {f"cli_help_{name}.txt" for name in _subcommands()}
    assert set(texts) == expected
    cli_rst = (DOCS / "cli.rst").read_text(encoding="utf-8")
    included = set(re.findall(r"^\.\. literalinclude:: _generated/(\S+)$", cli_rst, re.M))
    assert included == expected
    assert "docs/_generated/" in (ROOT / ".gitignore").read_text().split()  # build output
    conf.write_cli_help(tmp_path)
    for name, text in texts.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text
    for name in _subcommands():
        assert texts[f"cli_help_{name}.txt"].startswith(f"usage: prunefuse-sk {name} ")


def test_every_strategy_is_offered_by_the_command_line():
    commands = _subcommands()
    for command in ("simulate", "demo"):
        help_text = commands[command].format_help()
        missing = [name for name in STRATEGIES if not re.search(rf"\b{name}\b", help_text)]
        assert missing == [], f"prunefuse-sk {command} --help does not offer {missing}"


def test_every_option_the_cli_page_names_exists():
    options = {
        option
        for parser in [build_parser(), *_subcommands().values()]
        for action in parser._actions
        for option in action.option_strings
    }
    cli_rst = (DOCS / "cli.rst").read_text(encoding="utf-8")
    # options of prunefuse-sk, not of the pip commands the page quotes
    prose = re.sub(r"pip install[^`]*", "", cli_rst)
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", prose))
    assert named - options == set()


def test_the_plot_extra_is_documented_where_simulate_is():
    assert re.search(r'"plot":\s*\[\s*"matplotlib', (ROOT / "setup.py").read_text())
    for name in ("README.md", "docs/cli.rst"):
        assert "[plot]" in (ROOT / name).read_text(encoding="utf-8"), name


def test_the_docs_name_every_notebook_and_no_other():
    notebooks = {p.name for p in (ROOT / "examples" / "notebooks").glob("*.ipynb")}
    named = set()
    for rst in DOCS.glob("*.rst"):
        named |= set(re.findall(r"[\w-]+\.ipynb", rst.read_text(encoding="utf-8")))
    assert named == notebooks


def test_the_slowest_examples_named_exist():
    text = (ROOT / "examples" / "README.txt").read_text(encoding="utf-8")
    named = set(re.findall(r"plot_\w+\.py", text))
    assert named, "examples/README.txt names the slowest examples with their gallery timings"
    assert {name for name in named if not (ROOT / "examples" / name).exists()} == set()


def _server_the_script_runs():
    commands = "\n".join(
        line
        for line in SCREENSHOT_SCRIPT.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    started = [name for name, pattern in SERVERS.items() if re.search(pattern, commands, re.M)]
    assert len(started) == 1, started
    return started[0]


def test_the_screenshot_recipe_names_the_server_the_script_runs():
    server = _server_the_script_runs()
    describing, wrong = [], []
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.rst"))]:
        blocks = _blocks(path.read_text(encoding="utf-8"))
        for i, block in enumerate(blocks):
            if SCREENSHOT_SCRIPT.name not in block:
                continue
            # the paragraph naming the script and the one after it (the install recipe)
            recipe = _plain("\n".join(blocks[i : i + 2]))
            if re.search(SERVERS[server], recipe):
                describing.append(path.name)
            wrong += [
                f"{path.name}: {other}"
                for other, pattern in SERVERS.items()
                if other != server and re.search(pattern, recipe)
            ]
    assert "widgets.rst" in describing, f"docs/widgets.rst does not say the script runs {server}"
    assert wrong == [], f"the script runs {server}"
