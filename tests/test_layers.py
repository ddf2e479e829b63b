"""The core's layers import downward only (docs/architecture.md, "Layers").  Every import
statement of a layer's modules is read, including those inside functions (a lazy import is
still a dependency); imports under `if TYPE_CHECKING:` are annotations only and do not count.
Packages outside the table (config, plugins, codegen, printing, ...) are not checked here."""

from __future__ import annotations

import ast
from pathlib import Path

import theanine

PACKAGE = Path(theanine.__file__).parent
#: each layer and the layers its modules may import besides its own.  The compilation runs
#: rewriting → link, but the link layer (programs, backends, device storage) needs only the
#: graph: compile, on top, drives both.
BELOW = {
    "graph": set(),
    "link": {"graph"},
    "scalar": {"graph"},
    "tensor": {"graph", "scalar"},
    "rewriting": {"graph", "scalar", "tensor"},
    "gradient": {"graph", "scalar", "tensor", "rewriting"},
    "compile": {"graph", "scalar", "tensor", "rewriting", "gradient", "link"},
}

#: upward imports that stay, each a Theano API on a lower layer's object that runs a higher
#: layer when called: (importing module, imported layer) -> why
ALLOWED = {
    ("graph/basic.py", "compile"): "Variable.eval() compiles a function (Theano's API)",
    ("tensor/__init__.py", "gradient"): "T.grad, T.jacobian, ... are Theano's aliases of "
                                        "theanine.gradient, resolved on first use",
    ("gradient.py", "compile"): "theanine.gradient.jacobian and hessian: Theano's path of "
                                "functions that loop over a compiled graph (compile/jacobian.py)",
}


def _layer_of(path: Path) -> str | None:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return top if top in BELOW else None


def _under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names: list[str] = []
    for node in ast.walk(tree):
        if _under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "theanine":  # `from theanine import gradient, tensor`
                names += [f"theanine.{alias.name}" for alias in node.names]
            else:
                names.append(node.module)
    return {name.split(".")[1] for name in names
            if name.startswith("theanine.") and name.split(".")[1] in BELOW}


def _upward_imports() -> dict[tuple[str, str], str]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(path)
        if layer is None:
            continue
        for imported in _imported_layers(path):
            if imported != layer and imported not in BELOW[layer]:
                found[(path.relative_to(PACKAGE).as_posix(), imported)] = layer
    return found


def test_no_layer_imports_a_higher_one():
    unexpected = {key: layer for key, layer in _upward_imports().items() if key not in ALLOWED}
    assert not unexpected, "\n".join(
        f"{module} (layer {layer}) imports theanine.{imported}, not below it"
        for (module, imported), layer in sorted(unexpected.items()))


def test_every_allowed_exception_is_still_needed():
    stale = set(ALLOWED) - set(_upward_imports())
    assert not stale, f"these upward imports are gone; remove them from ALLOWED: {stale}"


def test_the_scan_sees_a_lazy_upward_import(tmp_path, monkeypatch):
    """The scanner itself: a function-level import of a higher layer is found, one under
    TYPE_CHECKING is not."""
    fake = tmp_path / "theanine"
    (fake / "scalar").mkdir(parents=True)
    (fake / "scalar" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from theanine.compile import shared\n"
        "def f():\n    from theanine.tensor import math\n    return math\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _upward_imports() == {("scalar/bad.py", "tensor"): "scalar"}
