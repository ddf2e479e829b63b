"""What every native backend (C, OpenCL, CUDA) links with: the compile report, saying what
each node runs as, and the Python backend's program generator over ready-made thunks (so
errors name the failing node on every backend)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from theanine.graph.basic import Apply
from theanine.link.python import PythonBackend


@dataclass
class NodeReport:
    node: str
    how: str  # "native", "view", "host" or "fallback"
    why: str = ""
    apply: Apply | None = None


@dataclass
class CompileReport:
    """What each node of a linked graph runs as; a backend's subclass writes `summary()`,
    the one-line form `Function.report()` shows."""

    nodes: list[NodeReport] = field(default_factory=list)

    def how(self, node: Apply) -> str | None:
        """"native", "host", ... or "fallback (why)" for a node of the linked graph."""
        for n in self.nodes:
            if n.apply is node:
                return n.how + (f" ({n.why})" if n.why else "")
        return None

    @property
    def fallbacks(self) -> list[NodeReport]:
        return [n for n in self.nodes if n.how == "fallback"]

    def count(self, how: str) -> int:
        return sum(1 for n in self.nodes if n.how == how)

    def fallback_text(self) -> str:
        """" (node: why; ...)" for the nodes that fell back to `perform`, else ""."""
        if not self.fallbacks:
            return ""
        return " (" + "; ".join(f"{n.node}: {n.why}" for n in self.fallbacks) + ")"


class ThunkProgram(PythonBackend):
    """The Python backend's program generator, handed ready-made thunks."""

    def __init__(self, thunks: dict[Apply, Any]):
        self._thunks = thunks

    def thunk_for(self, node: Apply) -> Any:
        return self._thunks[node]
