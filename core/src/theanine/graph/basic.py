"""Variables, constants and Apply nodes: the vertices and edges of a theanine graph.

A graph is bipartite: `Variable`s are produced by at most one `Apply` (their `owner`), and each
`Apply` records the `Op` applied to its input variables.  Everything here is plain data plus graph
walks; meaning lives in the Ops and Types.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from theanine.config import config  # a leaf module: no layer above graph is loaded

if TYPE_CHECKING:
    from theanine.graph.op import Op
    from theanine.graph.type import Type


class Tag(dict):
    """Free-form annotations of a variable or node (`x.tag.test_value = ...` as in Theano, or
    `x.tag["source"]`): a dict whose keys also read and write as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"tag has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"tag has no {name!r}") from None


class _Tagged:
    """`tag` always holds a `Tag`, whatever dict is assigned (clones copy with dict(...))."""

    @property
    def tag(self) -> Tag:
        return self._tag

    @tag.setter
    def tag(self, value: dict[str, Any]) -> None:
        self._tag = value if isinstance(value, Tag) else Tag(value)


class Variable(_Tagged):
    """A symbolic value of a given `Type`, optionally computed by `owner.outputs[index]`."""

    def __init__(self, type: Type, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Tag()

    def clone(self) -> Variable:
        """A new ownerless variable of the same type and name."""
        cp = self.__class__(self.type, None, None, self.name)
        cp.tag = dict(self.tag)
        return cp

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.0"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self) -> str:
        if config.print_test_value and "test_value" in self.tag:
            value = self.tag["test_value"]
            try:  # as the variable's type holds it (Theano shows `x.tag.test_value = 42` so)
                value = self.type.filter(value, allow_downcast=True)
            except Exception:  # a value the type refuses is shown as it was given
                pass
            return f"{self}\n{value!r}"
        return str(self)

    def auto_name(self) -> str:
        """The name to show a user: the given name or a description of where it comes from."""
        return str(self)

    def eval(self, inputs_to_values: dict[Variable, Any] | None = None) -> Any:
        """This variable's value, given values for the inputs it needs (Theano's `eval`).

        The function is compiled on the first call for a set of inputs and kept on the
        variable for later calls with the same inputs (not on its clones, nor when pickled).
        """
        from theanine.compile.function import function

        if inputs_to_values is None:
            inputs_to_values = {}
        if not isinstance(inputs_to_values, dict):
            raise TypeError(f"{self}.eval: inputs_to_values must be a dict mapping input "
                            f"variables to values, got {type(inputs_to_values).__name__} "
                            f"{inputs_to_values!r}"[:300])
        for key in inputs_to_values:
            if not isinstance(key, Variable):
                raise TypeError(f"{self}.eval: the keys of inputs_to_values must be symbolic "
                                f"variables, got {type(key).__name__} {key!r}")
        inputs = tuple(sorted(inputs_to_values, key=id))
        cache = self.__dict__.setdefault("_fn_cache", {})
        fn = cache.get(inputs)
        if fn is None:
            fn = cache[inputs] = function(list(inputs), self)
        return fn(*[inputs_to_values[v] for v in inputs])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_fn_cache", None)  # compiled functions belong to this process
        return state


class Constant(Variable):
    """A variable whose value is known when the graph is built."""

    def __init__(self, type: Type, data: Any, name: str | None = None):
        super().__init__(type, None, None, name)
        self.data = type.filter(data)

    def signature(self) -> tuple:
        """What makes two constants interchangeable (used by merging)."""
        return (self.type, self.type.value_signature(self.data))

    def clone(self) -> Constant:
        return self  # constants are immutable and shareable between graphs

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        return f"{type(self).__name__}{{{self.type.value_str(self.data)}}}"


class Apply(_Tagged):
    """One application of an Op to input variables, producing output variables."""

    def __init__(self, op: Op, inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"output {out} of {op} already has an owner")
            out.owner = self
            out.index = i
        self.tag = Tag()
        if not _NO_TRACE.depth:
            trace = creation_trace()
            if trace:
                self.tag["trace"] = trace

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_perform_thunk", None)  # a generated thunk belongs to this process
        return state

    @property
    def out(self) -> Variable:
        """The single output (for Ops with one output)."""
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def copy_onto(self, inputs: Sequence[Variable]) -> list[Variable]:
        """Fresh outputs of the same op applied to `inputs` (of the same types): a structural
        copy, `make_node` is not called; the tag is copied."""
        outputs = [o.clone() for o in self.outputs]
        Apply(self.op, inputs, outputs).tag = dict(self.tag)
        return outputs

    def clone_with_new_inputs(self, inputs: Sequence[Variable], strict: bool = True) -> Apply:
        """Rebuild this node on new inputs through `op.make_node` (so types are re-inferred)."""
        if strict:
            for old, new in zip(self.inputs, inputs):
                if old.type != new.type and not old.type.is_compatible(new.type):
                    raise TypeError(
                        f"cannot replace input {old} of type {old.type} with {new} of type "
                        f"{new.type} in {self.op}")
        node = self.op.make_node(*inputs)
        node.tag = dict(self.tag)
        return node

    def __str__(self) -> str:
        return f"{self.op}({', '.join(str(i) for i in self.inputs)})"

    __repr__ = __str__


#: one frame of a creation trace: (file name, line number, function name)
Frame = tuple[str, int, str]


class _NoTrace(threading.local):
    depth = 0


_NO_TRACE = _NoTrace()


#: file name -> whether its code is theanine's own (or a theanine plugin's)
_OURS: dict[str, bool] = {}


def creation_trace(limit: int | None = None) -> tuple[Frame, ...]:
    """The user's frames that are building a node, innermost first: theanine's own frames
    (and its plugins') are skipped, at most `limit` (default `config.traceback__limit`; -1:
    all, 0: none) are kept.  Plain tuples of strings: cheap (1-2 us), picklable, and no frame
    (with its locals) is kept alive."""
    if limit is None:
        limit = config.value("traceback.limit")
    if limit == 0:
        return ()
    frames: list[Frame] = []
    ours = _OURS
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        mine = ours.get(filename)
        if mine is None:
            module = frame.f_globals.get("__name__") or ""
            mine = ours[filename] = module == "theanine" or module.startswith(
                ("theanine.", "theanine_"))
        if not mine:
            frames.append((filename, frame.f_lineno, code.co_name))
            if len(frames) == limit:
                break
        frame = frame.f_back
    return tuple(frames)


@contextmanager
def no_creation_trace() -> Iterator[None]:
    """Nodes built in this block (by rewrites, while compiling) record no creation line of
    their own: the node they replace hands its line on (`rewriting.provenance`)."""
    _NO_TRACE.depth += 1
    try:
        yield
    finally:
        _NO_TRACE.depth -= 1


def _as_list(x: Variable | Iterable[Variable]) -> list[Variable]:
    return [x] if isinstance(x, Variable) else list(x)


def ancestors(outputs: Variable | Iterable[Variable],
              blockers: Iterable[Variable] = ()) -> list[Variable]:
    """Every variable that `outputs` depend on (themselves included), stopping at `blockers`."""
    blocked = set(blockers)
    seen: set[Variable] = set()
    order: list[Variable] = []
    stack = _as_list(outputs)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        order.append(v)
        if v.owner is not None and v not in blocked:
            stack.extend(reversed(v.owner.inputs))
    return order


def graph_inputs(outputs: Variable | Iterable[Variable],
                 blockers: Iterable[Variable] = ()) -> list[Variable]:
    """The ownerless variables (and blockers) that `outputs` depend on."""
    blocked = set(blockers)
    return [v for v in ancestors(outputs, blocked) if v.owner is None or v in blocked]


def io_toposort(inputs: Iterable[Variable], outputs: Iterable[Variable],
                after: Mapping[Apply, Sequence[Apply]] | None = None) -> list[Apply]:
    """The Apply nodes between `inputs` and `outputs`, each after the nodes it depends on
    (and after the nodes `after` lists for it: orderings that are not data dependencies)."""
    after = after or {}
    stop = set(inputs)
    order: list[Apply] = []
    done: set[Apply] = set()
    for out in outputs:
        stack: list[tuple[Variable, bool]] = [(out, False)]
        while stack:
            var, expanded = stack.pop()
            node = var.owner
            if node is None or var in stop or node in done:
                continue
            if expanded:
                done.add(node)
                order.append(node)
                continue
            stack.append((var, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and inp.owner not in done and inp not in stop:
                    stack.append((inp, False))
            stack.extend((first.outputs[0], False) for first in after.get(node, ())
                         if first not in done)
    return order


def eager_nodes(inputs: Iterable[Variable], outputs: Iterable[Variable]) -> list[Apply]:
    """The nodes between `inputs` and `outputs` that run whatever the conditions of lazy nodes
    (`Op.lazy_branches`, i.e. ifelse) select, in topological order.  The others run only
    inside a branch: a rewrite must not move them where they would always run (e.g. out of a
    loop)."""
    order = io_toposort(inputs, outputs)
    stop = set(inputs)
    needed: set[Apply] = set()
    stack = [o.owner for o in outputs if o.owner is not None and o not in stop]
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        branches = node.op.lazy_branches(node)
        reads = node.inputs if branches is None else [node.inputs[branches.condition]]
        stack.extend(i.owner for i in reads if i.owner is not None and i not in stop)
    return [node for node in order if node in needed]


def clone_replace(outputs: Sequence[Variable], replace: dict[Variable, Variable] | None = None,
                  strict: bool = True) -> list[Variable]:
    """Copy the graph of `outputs`, substituting `replace[old]` for each `old` it reaches."""
    memo: dict[Variable, Variable] = dict(replace or {})
    for node in io_toposort(list(memo), outputs):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if all(n is o for n, o in zip(new_inputs, node.inputs)):
            continue
        new_node = node.clone_with_new_inputs(new_inputs, strict=strict)
        for old, new in zip(node.outputs, new_node.outputs):
            if old.name is not None and new.name is None:
                new.name = old.name
            memo[old] = new
    return [memo.get(o, o) for o in outputs]


def clone_graph(inputs: Sequence[Variable], outputs: Sequence[Variable],
                ) -> tuple[list[Variable], list[Variable], dict[Variable, Variable]]:
    """Copy the graph between `inputs` and `outputs` with fresh variables and nodes.

    Returns the new inputs, the new outputs and the old-to-new equivalence map.  Unlike
    `clone_replace` this never calls `make_node`: the copy is structurally identical.
    """
    equiv: dict[Variable, Variable] = {i: i.clone() for i in inputs}
    for node in io_toposort(inputs, outputs):
        for i in node.inputs:
            if i not in equiv:
                equiv[i] = i.clone()
        equiv.update(zip(node.outputs, node.copy_onto([equiv[i] for i in node.inputs])))
    for o in outputs:
        if o not in equiv:
            equiv[o] = o.clone()
    return [equiv[i] for i in inputs], [equiv[o] for o in outputs], equiv
