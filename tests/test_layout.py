"""The architecture, checked: module and function sizes, private modules, import layers.

Plain ``ast`` over the source files; nothing is imported. Each check lists
every violation it finds, as ``file:line ...``, so a failure reads as a to-do
list.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sktransfer"

# The layers, lowest first. A module may import its own layer or a lower one, never a higher one.
# An entry names a module or package (its submodules included); "sktransfer._*" is every top-level
# private module (and they may import each other); "sktransfer" is the package root, sktransfer/__init__.py,
# alone (it may import anything).
LAYERS = (
    (0, ("sktransfer._*",)),  # _device, _tensors, _progress, _validation, _auto, _files, ...
    (1, ("sktransfer.images", "sktransfer.text", "sktransfer._inputs")),  # the input layer: one adapter per modality
    (2, ("sktransfer.backbones",)),
    (3, ("sktransfer.nn",)),
    (4, ("sktransfer.training", "sktransfer.runtimes")),
    (5, ("sktransfer.inspection", "sktransfer.metrics")),
    (6, ("sktransfer.estimators",)),
    (7, ("sktransfer.export", "sktransfer.deploy", "sktransfer.dask", "sktransfer.ranking")),
    (8, ("sktransfer.benchmark",)),
    (9, ("sktransfer.__main__", "sktransfer")),
)

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80  # docstring not counted
MAX_BASE_LINES = 400  # sktransfer/estimators/_base.py, strictly under

# Private attributes of other libraries that we use on purpose; any other ``obj._name`` outside
# sktransfer/estimators/ (obj not self, cls or super()) is taken for an estimator's private state.
FOREIGN_PRIVATES = {
    "_BatchNorm",  # torch.nn.modules.batchnorm._BatchNorm: the base class of every BatchNorm, for isinstance
    "_process_input",  # torchvision's VisionTransformer: patchify + flatten, the trunk's first step
    "_asdict", "_fields", "_replace",  # namedtuple's documented API (underscored to avoid field clashes)
}


# --- helpers ---------------------------------------------------------------------------------------

def _is_private(part):
    return part.startswith("_") and not part.startswith("__")


def module_name(path, root=ROOT):
    """``sktransfer/a/_m.py`` -> ``sktransfer.a._m``; ``sktransfer/a/__init__.py`` -> ``sktransfer.a``."""
    parts = list(Path(path).resolve().relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path):
    return Path(path).name == "__init__.py"


def resolve_from(module, package, node):
    """The absolute module an ``ImportFrom`` node imports from (``from ..a._m import x`` -> ``sktransfer.a._m``).

    ``module`` is the importing module's name and ``package`` whether it is a package's ``__init__``.
    """
    if not node.level:
        return node.module or ""
    base = module.split(".") if package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def sources(*folders):
    files = sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folders}"
    return files


@lru_cache(maxsize=None)
def parse(path):
    return ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))


def rel(path):
    return Path(path).relative_to(ROOT).as_posix()


@lru_cache(maxsize=None)
def package_modules():
    return frozenset(module_name(p) for p in sources("sktransfer"))


@lru_cache(maxsize=None)
def packages():
    return frozenset(module_name(p) for p in sources("sktransfer") if is_package(p))


def imports(path):
    """Every import in a file, anywhere (function-level included), as ``(line, names)``.

    ``names`` are absolute dotted names: for ``from X import a`` the name ``X.a`` (a submodule
    or a name defined in ``X``), for ``import X.Y`` the name ``X.Y``.
    """
    module, package = module_name(path), is_package(path)
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve_from(module, package, node)
            yield node.lineno, [f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names]


def imported_module(name):
    """The sktransfer module an imported dotted name belongs to (``sktransfer.images.as_image_set`` -> images)."""
    while name and name not in package_modules():
        name = name.rpartition(".")[0]
    return name


def layer_of(module):
    """The layer of an sktransfer module, or None when the table has no entry for it."""
    parts = module.split(".")
    named = [(layer, entry) for layer, entries in LAYERS for entry in entries if entry != "sktransfer._*"]
    for layer, entry in named:  # a module named in the table wins over the "sktransfer._*" wildcard
        if entry != "sktransfer" and (module == entry or module.startswith(entry + ".")):
            return layer
    for layer, entries in LAYERS:
        for entry in entries:
            if entry == "sktransfer._*":
                if len(parts) > 1 and _is_private(parts[1]):
                    return layer
            elif entry == "sktransfer":
                if module == "sktransfer":
                    return layer
            elif module == entry or module.startswith(entry + "."):
                return layer
    return None


def private_owner(name, plain_modules=None):
    """``(owner, private)``: the package whose private part ``name`` reaches into, and that part.

    ``private`` is ``name`` up to its first private component, and ``owner`` is the package that
    component belongs to: ``sktransfer.a._m.x`` and ``sktransfer.a._y`` (a private module, or a name
    private to ``a/__init__.py``) are owned by ``sktransfer.a``, and so is ``sktransfer.a.m._z``, a private
    name of the plain module ``a/m.py``. A top-level public module (``sktransfer.dask``, and
    ``sktransfer.images`` while it was one) is its own unit: its private names belong to it.
    ``sktransfer._m`` is owned by ``sktransfer`` itself (shared by the whole package). ``(None, None)``
    when ``name`` is all public.
    """
    if plain_modules is None:
        plain_modules = package_modules() - packages()
    parts = name.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if _is_private(part):
            container = ".".join(parts[:i])
            if container in plain_modules and i > 2:
                container = ".".join(parts[: i - 1])  # a private name of a plain module in a subpackage
            return container, ".".join(parts[: i + 1])
    return None, None


def functions(tree):
    """Every function and method, nested ones included, as ``(qualified name, node)``."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                yield name, child
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def function_lines(node):
    """Lines of a function, decorators and docstring not counted."""
    n = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        n -= first.end_lineno - first.lineno + 1
    return n


def _by_place(violation):
    place = violation.split(" ", 1)[0].rstrip(":")
    file, _, line = place.partition(":")
    return file, int(line) if line.isdigit() else 0, violation


def report(violations):
    """The violations, once each, by file and line."""
    violations = sorted(set(violations), key=_by_place)
    return f"{len(violations)} violation(s):\n  " + "\n  ".join(violations)


# --- the helpers, on small cases --------------------------------------------------------------------

def _from_node(source):
    return ast.parse(source).body[0]


@pytest.mark.parametrize("module, package, source, expected", [
    ("sktransfer.a.m", False, "from ._m import x", "sktransfer.a._m"),
    ("sktransfer.a.m", False, "from .._m import x", "sktransfer._m"),
    ("sktransfer.a.m", False, "from ..b._m import y", "sktransfer.b._m"),
    ("sktransfer.a.m", False, "from ..b import _y", "sktransfer.b"),
    ("sktransfer.a", True, "from ._m import x", "sktransfer.a._m"),
    ("sktransfer.a", True, "from . import _m", "sktransfer.a"),
    ("sktransfer.a.b.m", False, "from ... import c", "sktransfer"),
    ("sktransfer.m", False, "from sktransfer.a import b", "sktransfer.a"),
])
def test_relative_imports_resolve(module, package, source, expected):
    assert resolve_from(module, package, _from_node(source)) == expected


def test_layer_table_and_owners():
    assert layer_of("sktransfer._device") == 0 and layer_of("sktransfer._inputs") == 1
    assert layer_of("sktransfer.images") == layer_of("sktransfer.images._open") == 1
    assert layer_of("sktransfer.estimators._base") == 6
    assert layer_of("sktransfer.benchmark.__main__") == 8
    assert layer_of("sktransfer.__main__") == layer_of("sktransfer") == 9
    assert layer_of("sktransfer.unknown") is None
    plain = {"sktransfer.dask", "sktransfer.a.m", "sktransfer._device"}
    assert private_owner("sktransfer.a._m.x", plain) == ("sktransfer.a", "sktransfer.a._m")
    assert private_owner("sktransfer.a._y", plain) == ("sktransfer.a", "sktransfer.a._y")
    assert private_owner("sktransfer.a.m._z", plain) == ("sktransfer.a", "sktransfer.a.m._z")
    assert private_owner("sktransfer.dask._cores", plain) == ("sktransfer.dask", "sktransfer.dask._cores")
    assert private_owner("sktransfer._device.pin", plain) == ("sktransfer", "sktransfer._device")
    assert private_owner("sktransfer.a.b", plain) == private_owner("sktransfer.__version__", plain) == (None, None)
    assert module_name(PACKAGE / "estimators" / "__init__.py") == "sktransfer.estimators"


def test_function_lines_leave_out_the_docstring():
    tree = ast.parse('def f():\n    """One\n    two."""\n    a = 1\n\n    def g():\n        return a\n    return g\n')
    found = dict(functions(tree))
    assert sorted(found) == ["f", "f.g"]
    assert function_lines(found["f"]) == 8 - 2 and function_lines(found["f.g"]) == 2


# --- the checks --------------------------------------------------------------------------------------

def test_no_module_over_600_lines():
    long = [f"{rel(p)}: {n} lines" for p in sources("sktransfer")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, report(long)


def test_no_function_over_80_lines():
    long = [f"{rel(p)}:{node.lineno} {name}: {n} lines" for p in sources("sktransfer")
            for name, node in functions(parse(p)) if (n := function_lines(node)) > MAX_FUNCTION_LINES]
    assert not long, report(long)


def test_estimator_base_under_400_lines():
    path = PACKAGE / "estimators" / "_base.py"
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n < MAX_BASE_LINES, f"{rel(path)}: {n} lines (limit {MAX_BASE_LINES})"


def _is_ours(name):
    return name == "sktransfer" or name.startswith("sktransfer.")


def test_private_modules_stay_in_their_package():
    violations = []
    for path in sources("sktransfer"):
        importer = module_name(path)
        for line, names in imports(path):
            for name in filter(_is_ours, names):
                owner, private = private_owner(name)
                if owner is None or owner == "sktransfer":  # public, or a shared top-level private module
                    continue
                if not (importer == owner or importer.startswith(owner + ".")):
                    violations.append(f"{rel(path)}:{line} imports {private} (private to {owner})")
    assert not violations, report(violations)


def test_examples_and_benchmarks_use_only_the_public_api():
    violations = []
    for path in sources("examples", "benchmarks"):
        for line, names in imports(path):
            for name in filter(_is_ours, names):
                owner, private = private_owner(name)
                if owner is not None:
                    violations.append(f"{rel(path)}:{line} imports {private}")
    assert not violations, report(violations)


def test_every_module_has_a_layer():
    missing = sorted(m for m in package_modules() if layer_of(m) is None)
    assert not missing, "modules with no entry in LAYERS: " + ", ".join(missing)


def test_imports_flow_down_the_layers():
    violations = []
    for path in sources("sktransfer"):
        own = layer_of(module_name(path))
        if own is None:
            continue  # test_every_module_has_a_layer names it
        for line, names in imports(path):
            for name in names:
                target = imported_module(name)
                if not target:
                    continue  # not sktransfer
                layer = layer_of(target)
                if layer is not None and layer > own:
                    violations.append(f"{rel(path)}:{line} imports {target} (layer {own} -> {layer})")
    assert not violations, report(violations)


def _private_reads(tree):
    """``(line, text)`` for each ``obj._name`` (and ``getattr(obj, "_name")``) with obj not self/cls/super()."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            obj, attr = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _is_private(node.args[1].value)):
            obj, attr = node.args[0], node.args[1].value
        else:
            continue
        if isinstance(obj, ast.Name) and obj.id in ("self", "cls"):
            continue
        if isinstance(obj, ast.Call) and isinstance(obj.func, ast.Name) and obj.func.id == "super":
            continue
        if attr in FOREIGN_PRIVATES:
            continue
        yield node.lineno, ast.unparse(node)


def test_no_private_estimator_state_read_outside_the_estimators():
    estimators = PACKAGE / "estimators"
    violations = [f"{rel(p)}:{line} reads {text}" for p in sources("sktransfer", "examples", "benchmarks")
                  if estimators not in p.parents for line, text in _private_reads(parse(p))]
    assert not violations, report(violations)


def test_private_reads_are_caught():
    tree = ast.parse("estimator._arch\ngetattr(extractor, '_n_features_out', None)\nself._x\n"
                     "super()._y()\nnn.modules.batchnorm._BatchNorm\nobj.__class__\n")
    assert [line for line, _ in _private_reads(tree)] == [1, 2]
