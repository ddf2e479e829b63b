"""What the HTML view shows, as plain data: the boxes (Apply nodes, inputs, shared values,
constants, outputs), the edges between them, what hovering a box tells (types, shapes, the
rewrites that made it, how the backend runs it) and, for a fused node, its scalar steps.

Two graphs are described: the compiled one (`f.maker.fgraph`) and the one the user wrote,
which the FunctionGraph's clone map (`fgraph.equiv`, original variable -> copy) still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from theanine.d3viz.shapes import describe_shape, static_shapes
from theanine.graph.basic import Apply, Constant, Variable, io_toposort

CHAR_W = 7.3  # width of a 12px monospace character, in pixels
LABEL_MAX = 48  # longer labels are clipped on the box; hovering shows the whole text


@dataclass
class Box:
    """One drawn box; `x`, `y` (its centre) are set by the layout."""

    id: str
    kind: str  # apply, input, shared, constant, output, step
    label: str  # as drawn (clipped)
    full: str  # the whole text
    info: list[tuple[str, str]]
    width: float
    height: float
    pos: int | None = None  # the node's place in the execution order (compiled graph)
    fused: GraphView | None = None  # a Composite's steps
    x: float = 0.0
    y: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "full": self.full,
                "info": [list(pair) for pair in self.info], "w": round(self.width, 1),
                "h": round(self.height, 1), "x": round(self.x, 1), "y": round(self.y, 1),
                "pos": self.pos, "fused": None if self.fused is None else self.fused.as_dict()}


@dataclass
class Edge:
    source: str
    target: str
    label: str
    kind: str  # data, view, destroy
    title: str
    points: list[tuple[float, float]] = field(default_factory=list)  # waypoints between ends

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "label": self.label,
                "kind": self.kind, "title": self.title,
                "points": [[round(x, 1), round(y, 1)] for x, y in self.points]}


@dataclass
class GraphView:
    name: str
    title: str
    boxes: list[Box]
    edges: list[Edge]
    note: str = ""
    width: float = 0.0
    height: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "note": self.note,
                "width": round(self.width, 1), "height": round(self.height, 1),
                "nodes": [b.as_dict() for b in self.boxes],
                "edges": [e.as_dict() for e in self.edges]}


def clip(text: str, size: int = LABEL_MAX) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= size else text[:size - 1] + "…"


def _box(id: str, kind: str, label: str, info: list[tuple[str, str]], **kw: Any) -> Box:
    shown = clip(label)
    height = 30.0 if kind in ("apply", "step") else 24.0
    return Box(id, kind, shown, label, info, width=len(shown) * CHAR_W + 24, height=height,
               **kw)


class _Describer:
    """Builds a GraphView from nodes in execution order and the graph's outputs."""

    def __init__(self, name: str, title: str, nodes: list[Apply], outputs: list[Variable],
                 output_names: list[str], report: Any = None, positions: bool = False):
        self.view = GraphView(name, title, [], [])
        self.ids: dict[Any, str] = {}
        self.report = report
        leaves = [i for n in nodes for i in n.inputs if i.owner is None]
        leaves += [o for o in outputs if o.owner is None]
        self.shapes = static_shapes(nodes, leaves)
        for k, node in enumerate(nodes):
            self._apply(node, k if positions else None)
        for out, what in zip(outputs, output_names):
            box = _box(f"o{len(self.view.boxes)}", "output", what,
                       [("output", what), *self._var_info(out)])
            self.view.boxes.append(box)
            self._edge(out, box.id, "", "data")

    def _shape(self, v: Variable) -> str | None:
        return describe_shape(self.shapes.get(v))

    def _var_info(self, v: Variable) -> list[tuple[str, str]]:
        info = [("variable", str(v)), ("type", str(v.type))]
        shape = self._shape(v)
        if shape is not None:
            info.append(("shape", shape))
        return info

    def _leaf(self, v: Variable) -> str:
        """The box of an input, shared value or constant (made on first use)."""
        if v in self.ids:
            return self.ids[v]
        from theanine.tensor.sharedvar import SharedVariable

        if isinstance(v, Constant):
            kind = "constant"
        elif isinstance(v, SharedVariable):
            kind = "shared"
        else:
            kind = "input"
        box = _box(f"v{len(self.view.boxes)}", kind, str(v), [(kind, str(v)),
                                                             *self._var_info(v)[1:]])
        self.view.boxes.append(box)
        self.ids[v] = box.id
        return box.id

    def _edge(self, v: Variable, target: str, label: str, kind: str) -> None:
        source = self.ids[v.owner] if v.owner is not None else self._leaf(v)
        shape = self._shape(v)
        title = f"{v}: {v.type}" + (f", shape {shape}" if shape else "")
        self.view.edges.append(Edge(source, target, label, kind, title))

    def _apply(self, node: Apply, pos: int | None) -> None:
        op = node.op
        info: list[tuple[str, str]] = [("op", str(op))]
        if pos is not None:
            info.append(("runs", f"#{pos} in the execution order"))
        for j, out in enumerate(node.outputs):
            shape = self._shape(out)
            name = f"output {j}" if len(node.outputs) > 1 else "output"
            info.append((name, f"{out.type}" + (f", shape {shape}" if shape else "")
                         + (f" ({out.name})" if out.name else "")))
        for k, inp in enumerate(node.inputs):
            shape = self._shape(inp)
            info.append((f"input {k}", f"{clip(str(inp), 60)}: {inp.type}"
                         + (f", shape {shape}" if shape else "")))
        info.extend(_provenance(node))
        how = self.report.how(node) if self.report is not None else None
        if how:
            info.append(("backend runs it", how))
        views = {i for ins in op.view_map.values() for i in ins}
        destroys = {i for ins in op.destroy_map.values() for i in ins}
        if views:
            info.append(("views input", ", ".join(map(str, sorted(views)))))
        if destroys:
            info.append(("overwrites input", ", ".join(map(str, sorted(destroys)))))
        box = _box(f"n{len(self.view.boxes)}", "apply", str(op), info, pos=pos,
                   fused=_steps(node))
        self.view.boxes.append(box)
        self.ids[node] = box.id
        for k, inp in enumerate(node.inputs):
            kind = "destroy" if k in destroys else "view" if k in views else "data"
            self._edge(inp, box.id, str(k) if len(node.inputs) > 1 else "", kind)


def _provenance(node: Apply) -> list[tuple[str, str]]:
    """The rewrite provenance `theanine.explain` prints, as hover rows."""
    made_by = node.tag.get("provenance")
    rows = [("made by", ", ".join(made_by) if made_by else "as written")]
    if node.tag.get("rewired"):
        rows.append(("inputs replaced by", ", ".join(node.tag["rewired"])))
    if node.tag.get("source"):
        rows.append(("computes", str(node.tag["source"])))
    return rows


def _steps(node: Apply) -> GraphView | None:
    """A fused node's scalar program as a small graph: its inputs i0.. and one box per step."""
    from theanine.scalar.composite import Composite

    scalar_op = getattr(node.op, "scalar_op", None)
    if not isinstance(scalar_op, Composite):
        return None
    view = GraphView("steps", str(scalar_op), [], [])
    ids = []
    for k, inp in enumerate(node.inputs):
        box = _box(f"i{k}", "input", f"i{k}", [("input", f"i{k} = {inp}"), ("type", str(inp.type))])
        view.boxes.append(box)
        ids.append(box.id)
    for j, (op, refs, dtype) in enumerate(scalar_op.steps):
        args = ", ".join(ids[r] for r in refs)
        box = _box(f"s{j}", "step", op.name, [("step", f"{op.name}({args})"), ("dtype", dtype)])
        view.boxes.append(box)
        for slot, r in enumerate(refs):
            view.edges.append(Edge(ids[r], box.id, str(slot) if len(refs) > 1 else "", "data",
                                   f"{ids[r]} -> {op.name}"))
        ids.append(box.id)
    return view


def compiled_view(f: Any) -> GraphView:
    """The graph `f` runs, nodes numbered in execution order, with updates marked."""
    fgraph = f.maker.fgraph
    nodes = fgraph.toposort()
    n_out = f.n_out
    names = [f"output {k}" + (f": {o.name}" if o.name else "")
             for k, o in enumerate(fgraph.outputs[:n_out])]
    names += [f"update of {v.name or v}" for v in f.updated]
    names += [f"update of input {k}" for k in f.state_inputs]
    report = getattr(f.maker.program, "report", None)
    title = f"compiled: {len(nodes)} node(s), backend {f.maker.backend.name}"
    return _Describer("compiled", title, nodes, list(fgraph.outputs), names,
                      report if hasattr(report, "how") else None, positions=True).view


def original_view(f: Any) -> GraphView:
    """The graph as the user built it (before rewriting), from the clone map."""
    fgraph = f.maker.fgraph
    originals = list(fgraph.equiv)
    if not originals:  # an unpickled function was linked from its rewritten graph
        return GraphView("original", "as written: not available", [], [],
                         note="This function was unpickled: only its rewritten graph was saved.")
    inputs = originals[:len(fgraph.inputs)]
    nodes = io_toposort(inputs, originals)
    consumed = {i for n in nodes for i in n.inputs}
    node_set = set(nodes)
    outputs = [v for v in originals if v.owner in node_set and v not in consumed]
    names = [f"result {k}" + (f": {o.name}" if o.name else "") for k, o in enumerate(outputs)]
    title = f"as written: {len(nodes)} node(s)"
    view = _Describer("original", title, nodes, outputs, names).view
    view.note = ("The graph before rewriting; results are the values nothing else reads "
                 "(outputs and updates).")
    return view


def variables_view(outputs: list[Variable]) -> GraphView:
    """A graph of symbolic variables that is not compiled (`d3viz(expr, ...)`)."""
    nodes = io_toposort([], outputs)
    names = [f"output {k}" + (f": {o.name}" if o.name else "") for k, o in enumerate(outputs)]
    return _Describer("original", f"as written: {len(nodes)} node(s)", nodes, outputs,
                      names).view
