"""`FunctionGraph`: the mutable graph that rewrites operate on.

It owns a copy of the graph between its inputs and outputs, keeps each variable's clients, and
tells attached features (listeners) about every change, so that validation, shape tracking,
inplace bookkeeping and history can follow along without the rewrites knowing about them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from theanine.graph.basic import Apply, Constant, Variable, clone_graph, io_toposort

# A client is (node, input index), or ("output", output index) for the graph's outputs.
Client = tuple[Any, int]


class Feature(Protocol):
    """A listener: every method is optional."""

    def on_attach(self, fgraph: FunctionGraph) -> None: ...
    def on_import(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None: ...
    def on_prune(self, fgraph: FunctionGraph, node: Apply, reason: str | None) -> None: ...
    def on_change_input(self, fgraph: FunctionGraph, client: Any, i: int, old: Variable,
                        new: Variable, reason: str | None) -> None: ...


class FunctionGraph:
    """The graph from `inputs` to `outputs`, with client lists and a listener bus."""

    #: inputs whose buffers the graph may overwrite once every other reader has run (the
    #: shared values a function updates, `In(mutable=True)`): see `rewriting.inplace`
    mutable_inputs: frozenset[Variable] = frozenset()

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 clone: bool = True, features: Sequence[Any] = ()):
        if clone:
            inputs, outputs, self.equiv = clone_graph(list(inputs), list(outputs))
        else:
            self.equiv = {}
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        self.clients: dict[Variable, list[Client]] = {}
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self.features: list[Any] = []
        for i in self.inputs:
            self._add_variable(i)
        for k, out in enumerate(self.outputs):
            self._import_var(out, reason="init")
            self.clients[out].append(("output", k))
        for f in features:
            self.attach_feature(f)

    # Bookkeeping --------------------------------------------------------------------------
    def _add_variable(self, v: Variable) -> None:
        if v not in self.variables:
            self.variables.add(v)
            self.clients.setdefault(v, [])

    def _import_var(self, var: Variable, reason: str | None) -> None:
        """Add the nodes computing `var` that the graph does not have yet (and only those:
        the walk stops at variables already in the graph, so a replacement costs the size of
        what it adds, not the size of the graph)."""
        new_nodes = self._new_nodes(var)
        for node in new_nodes:  # check everything before changing anything
            for inp in node.inputs:
                if (inp.owner is None and inp not in self.variables
                        and not isinstance(inp, Constant)):
                    raise ValueError(
                        f"variable {inp} is needed to compute {var} but is not an input of the "
                        "function graph; pass it in `inputs` or give it a value with `givens`")
        if var.owner is None and var not in self.variables and not isinstance(var, Constant):
            raise ValueError(f"output {var} is not computable from the inputs")
        for node in new_nodes:
            self.apply_nodes.add(node)
            for i, inp in enumerate(node.inputs):
                self._add_variable(inp)
                self.clients[inp].append((node, i))
            for out in node.outputs:
                self._add_variable(out)
            self._notify("on_import", node, reason)
        self._add_variable(var)

    def _new_nodes(self, var: Variable) -> list[Apply]:
        """The nodes between the graph and `var` that are not imported, inputs first."""
        order: list[Apply] = []
        seen: set[Apply] = set()
        stack: list[tuple[Variable, bool]] = [(var, False)]
        while stack:
            v, expanded = stack.pop()
            node = v.owner
            if node is None or v in self.variables or (node in seen and not expanded):
                continue
            if expanded:
                order.append(node)
                continue
            seen.add(node)
            stack.append((v, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and inp.owner not in seen and inp not in self.variables:
                    stack.append((inp, False))
        return order

    def _prune_if_unused(self, var: Variable, reason: str | None) -> None:
        stack = [var]
        while stack:
            v = stack.pop()
            node = v.owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for o in node.outputs:
                self.variables.discard(o)
                self.clients.pop(o, None)
            self._notify("on_prune", node, reason)
            for i, inp in enumerate(node.inputs):
                cl = self.clients.get(inp)
                if cl is not None:
                    cl.remove((node, i))
                    if not cl and inp not in self.inputs:
                        stack.append(inp)

    def _notify(self, event: str, *args: Any) -> None:
        for f in self.features:
            method = getattr(f, event, None)
            if method is not None:
                method(self, *args)

    # Mutation -----------------------------------------------------------------------------
    def change_input(self, client: Any, i: int, new: Variable, reason: str | None = None) -> None:
        old = self.outputs[i] if client == "output" else client.inputs[i]
        if old is new:
            return
        self._import_var(new, reason)  # raises before anything changed if `new` is not computable
        if client == "output":
            self.outputs[i] = new
        else:
            client.inputs[i] = new
        self.clients[new].append((client, i))
        self.clients[old].remove((client, i))
        self._notify("on_change_input", client, i, old, new, reason)
        if not self.clients[old]:
            self._prune_if_unused(old, reason)

    def replace(self, var: Variable, new: Variable, reason: str | None = None) -> None:
        """Make every client of `var` use `new` instead; `reason` records which rewrite did it."""
        if var.type != new.type and not var.type.is_compatible(new.type):
            raise TypeError(f"cannot replace {var} ({var.type}) with {new} ({new.type}), "
                            f"reason: {reason}")
        if var not in self.variables:
            return
        for client, i in list(self.clients[var]):
            self.change_input(client, i, new, reason)

    def replace_all(self, pairs: Sequence[tuple[Variable, Variable]], reason: str | None = None
                    ) -> None:
        for var, new in pairs:
            self.replace(var, new, reason)

    def attach_feature(self, feature: Any) -> None:
        self.features.append(feature)
        on_attach = getattr(feature, "on_attach", None)
        if on_attach is not None:
            on_attach(self)

    def remove_feature(self, feature: Any) -> None:
        self.features.remove(feature)
        on_detach = getattr(feature, "on_detach", None)
        if on_detach is not None:
            on_detach(self)

    # Queries ------------------------------------------------------------------------------
    def toposort(self) -> list[Apply]:
        """The nodes in an order the backends may run them: each after its inputs, and a node
        that overwrites a graph input after every other node reading that input."""
        order = io_toposort(self.inputs, self.outputs)
        after = self.orderings(order)
        return io_toposort(self.inputs, self.outputs, after) if after else order

    def readers(self, v: Variable, but: Apply | None = None) -> list[Client] | None:
        """The clients (node, input index) that read `v`, directly or through views of it,
        except `but` reading `v` itself (`but` reading a view of `v` is listed); None if `v`
        or a view of it is an output of the graph."""
        found: list[Client] = []
        stack = [v]
        while stack:
            var = stack.pop()
            for client, k in self.clients.get(var, []):
                if client == "output":
                    return None
                if client is but and var is v:
                    continue
                found.append((client, k))
                stack += [client.outputs[o]
                          for o, ins in getattr(client.op, "view_map", {}).items() if k in ins]
        return found

    def input_destroyers(self, order: list[Apply] | None = None) -> dict[Variable, list[Apply]]:
        """The graph inputs that some node overwrites (a mutable one, `rewriting.inplace`),
        each with the nodes that do, in `order` (else any order)."""
        found: dict[Variable, list[Apply]] = {}
        inputs = None
        for node in order if order is not None else self.apply_nodes:
            if not node.op.destroy_map:
                continue
            inputs = set(self.inputs) if inputs is None else inputs
            for ins in node.op.destroy_map.values():
                for i in ins:
                    if node.inputs[i] in inputs:
                        found.setdefault(node.inputs[i], []).append(node)
        return found

    def orderings(self, order: list[Apply] | None = None) -> dict[Apply, list[Apply]]:
        """The orderings that are not data dependencies: for each node overwriting a graph
        input, the other nodes reading that input, which must run before it.  A linker that
        schedules nodes itself must honor them."""
        after: dict[Apply, list[Apply]] = {}
        for v, nodes in self.input_destroyers(order).items():
            for node in nodes:
                after.setdefault(node, []).extend(
                    r for r, _ in self.readers(v, but=node) or () if r is not node)
        return after

    def clone(self) -> FunctionGraph:
        copy = FunctionGraph(self.inputs, self.outputs, clone=True)
        copy.mutable_inputs = frozenset(copy.equiv[v] for v in self.mutable_inputs)
        return copy

    def __str__(self) -> str:
        return f"FunctionGraph({', '.join(str(o) for o in self.outputs)})"

