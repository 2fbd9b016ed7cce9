"""The code keeps the house style: the module map is the truth, names stay private, functions stay
short, and every public object has a numpydoc docstring (as scikit-learn's ``test_docstrings.py``
checks)."""

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import prunefuse_sk

PACKAGE = Path(prunefuse_sk.__file__).parent
ROOT = PACKAGE.parent
MAX_FUNCTION_LINES = 80
# numpydoc checks: a docstring, a summary, every parameter documented and none unknown, a Returns
# section
NUMPYDOC_CHECKS = {"GL08", "SS01", "PR01", "PR02", "RT01"}


def _module_name(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


SOURCES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _relative_base(name, path, level):
    package = [] if name == "__init__" else name.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return package[: len(package) - level + 1]


def _package_imports(name, path):
    """The package's modules that ``path`` imports (relative imports resolved, deferred ones
    included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.level):
            continue
        base = _relative_base(name, path, node.level)
        if node.module:
            found.add(".".join(base + [node.module]))
            continue
        # "from . import persistence" imports a module; "from . import x" the package
        for alias in node.names:
            target = ".".join(base + [alias.name])
            found.add(target if target in SOURCES else ".".join(base) or "__init__")
    return found - {name}


def _resolve(module, name):
    """A module name as the map writes it, inside ``module``'s subpackage first, then from the
    root."""
    package = (
        module.split(".")[:-1]
        if module in SOURCES and not SOURCES[module].name == "__init__.py"
        else []
    )
    if SOURCES.get(module) is not None and SOURCES[module].name == "__init__.py":
        package = module.split(".")
    local = ".".join(package + [name])
    return local if package and local in SOURCES else name


def _module_map():
    """CONTRIBUTING.md's module map: {module: declared imports (None: may import anything)}."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    declared = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if (
            not line.startswith("|")
            or len(cells) < 2
            or set(cells[0]) <= {"-", " "}
            or cells[0] == "module"
        ):
            continue
        modules = [
            re.sub(r"\.py$", "", name).replace("/", ".")
            for name in re.findall(r"`([^`]+)`", cells[0])
        ]
        modules = [
            name[: -len(".__init__")] if name.endswith(".__init__") else name for name in modules
        ]
        names = None if len(cells) < 3 else re.findall(r"`([\w.]+)`", cells[2])
        for module in modules:
            declared[module] = None if names is None else {_resolve(module, name) for name in names}
    return declared


def test_the_module_map_lists_every_module_and_every_import():
    declared = _module_map()
    assert set(SOURCES) - set(declared) == set(), (
        "modules missing from CONTRIBUTING.md's module map"
    )
    assert set(declared) - set(SOURCES) == set(), "the module map lists modules that do not exist"
    for name, path in SOURCES.items():
        allowed = declared[name]
        if allowed is None:  # a face (or the learner): may import everything below it
            continue
        undeclared = _package_imports(name, path) - allowed
        assert not undeclared, (
            f"{name} imports {sorted(undeclared)}, which its row in the module map does not declare"
        )


def test_no_private_name_crosses_a_module():
    crossings = []
    for name, path in SOURCES.items():
        tree = ast.parse(path.read_text())
        imported_modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    base = ".".join(
                        _relative_base(name, path, node.level)
                        + ([node.module] if node.module else [])
                    )
                    if (f"{base}.{alias.name}".strip(".") in SOURCES) or (
                        not node.module and private
                    ):
                        imported_modules.add(alias.asname or alias.name)
                    elif private:
                        crossings.append(
                            f"{name}: from {'.' * node.level}{node.module or ''} "
                            f"import {alias.name}"
                        )
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported_modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                crossings.append(f"{name}: {node.value.id}.{node.attr}")
    assert crossings == []


def _code_lines(source_lines, node):
    """Lines of a function that are neither blank, comments, nor its docstring."""
    docstring = None
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        docstring = range(first.lineno, first.end_lineno + 1)
    count = 0
    for number in range(node.lineno, node.end_lineno + 1):
        line = source_lines[number - 1].strip()
        if line and not line.startswith("#") and not (docstring and number in docstring):
            count += 1
    return count


def test_no_function_has_more_than_80_lines_of_code():
    long_functions = []
    for name, path in SOURCES.items():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = _code_lines(lines, node)
                if count > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name} (line {node.lineno}): {count} lines")
    assert long_functions == []


def _public_objects():
    """Every public class and function (the ``__all__`` of each public module) and the public
    methods of the classes."""
    seen = set()
    for info in pkgutil.walk_packages(prunefuse_sk.__path__, "prunefuse_sk."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if not (
                inspect.isclass(obj) or inspect.isfunction(obj)
            ) or not obj.__module__.startswith("prunefuse_sk"):
                continue
            qualname = f"{obj.__module__}.{obj.__qualname__}"
            if qualname in seen:
                continue
            seen.add(qualname)
            yield qualname
            if inspect.isclass(obj):
                for method, member in vars(obj).items():
                    if not method.startswith("_") and (
                        inspect.isfunction(member)
                        or isinstance(member, (classmethod, staticmethod))
                    ):
                        yield f"{qualname}.{method}"


PUBLIC_OBJECTS = sorted(_public_objects())


def test_the_docstring_check_sees_the_public_api():
    assert len(PUBLIC_OBJECTS) > 250
    assert "prunefuse_sk.learner.PruneFuseActiveLearner.query" in PUBLIC_OBJECTS
    assert "prunefuse_sk.pools.as_pool" in PUBLIC_OBJECTS


@pytest.mark.parametrize("qualname", PUBLIC_OBJECTS)
def test_public_docstrings_pass_numpydoc_validation(qualname):
    validate = pytest.importorskip("numpydoc.validate").validate
    errors = [
        f"{code}: {message}"
        for code, message in validate(qualname)["errors"]
        if code in NUMPYDOC_CHECKS
    ]
    assert errors == [], qualname
