"""docs/plugins.md runs as written: each Python block on its own, as a module of its own, with a
fresh plugin registry (built-in plugins only), so an example can neither lean on another's
registrations nor on what happens to be installed."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from theanine.config import config
from theanine.plugins import PluginRegistry, use_registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.M | re.S)


BLOCKS = _python_blocks(DOC)


def test_the_doc_has_an_example_per_kind_of_plugin():
    hooks = ("theanine_register_op_impls", "theanine_register_rewrites",
             "theanine_register_backends", "theanine_register_config")
    for hook in hooks:
        assert any(f"def {hook}(" in block for block in BLOCKS), hook


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, monkeypatch):
    name = f"theanine_docs_plugins_example_{index}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    code = compile(BLOCKS[index], f"{DOC}:block {index}", "exec")
    with use_registry(PluginRegistry(entry_points=False)), \
            config.change_flags(backend="python", optimizer_including=(),
                                optimizer_excluding=()):
        exec(code, module.__dict__)
