"""`function_dump`: Theano's way to hand someone a compilation problem in one file.

Instead of `theanine.function(...)`, call `theanine.function_dump("bug.pkl", ...)` with the same
arguments: it compiles nothing and pickles the arguments as a dict, so that the recipient runs
`theanine.function(**pickle.load(open("bug.pkl", "rb")))` on the very same graph, shared
values included (set them to zeros first if they are private).

What a plain `pickle` of a graph trips on is left out of the file, never out of the user's
objects: the tag entries named in `extra_tag_to_remove` (plus `test_value`, as Theano did; the
creation `trace` is plain tuples of strings here, so it is kept and errors in the recipient's
compile still name the sender's lines).  Anything else that does not pickle (a mode
with a lambda hook, an `as_op` around a lambda, a tag entry holding a function) is refused
with the argument and, inside a graph, the node or tag entry named.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterable, Sequence
from typing import Any

from theanine.compile.io import In, Out
from theanine.graph.basic import Apply, Constant, Tag, Variable, ancestors
from theanine.tensor.sharedvar import SharedVariable

#: the tag entries always left out (Theano's StripPickler also dropped `trace`: ours pickles)
DEFAULT_TAGS_TO_REMOVE = ("test_value",)


def function_dump(filename: str | os.PathLike, inputs: Sequence[Variable | In] = (),
                  outputs: Any = None, mode: Any = None, updates: Any = None,
                  givens: Any = None, no_default_updates: bool | Sequence[Variable] = False,
                  accept_inplace: bool = False, name: str | None = None,
                  rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
                  profile: Any = None, on_unused_input: str | None = None,
                  extra_tag_to_remove: Iterable[str] | None = None, *,
                  backend: str | None = None) -> None:
    """Pickle the arguments of a `theanine.function` call into `filename` as a dict of its
    keyword arguments: `f = theanine.function(**pickle.load(open(filename, "rb")))` then
    compiles the same function.  `extra_tag_to_remove`: more tag entries to leave out of the
    file (e.g. a framework's annotations that do not pickle), besides `test_value`."""
    if not isinstance(filename, str | os.PathLike):
        raise TypeError(f"function_dump: filename must be a path (str or os.PathLike), got "
                        f"{type(filename).__name__} {filename!r}"[:200])
    strip = frozenset(DEFAULT_TAGS_TO_REMOVE) | _tag_names(extra_tag_to_remove)
    kwargs = dict(inputs=inputs, outputs=outputs, mode=mode, updates=updates, givens=givens,
                  no_default_updates=no_default_updates, accept_inplace=accept_inplace,
                  name=name, rebuild_strict=rebuild_strict,
                  allow_input_downcast=allow_input_downcast, profile=profile,
                  on_unused_input=on_unused_input, backend=backend)
    try:
        data = _dumps(kwargs, strip)  # the whole dict at once: one object per shared variable
    except Exception as exc:  # pickle raises PicklingError, TypeError, AttributeError, ...
        raise _unpicklable(kwargs, strip, exc) from exc
    with open(filename, "wb") as file:  # written only once everything has pickled
        file.write(data)


def _tag_names(value: Any) -> frozenset[str]:
    names = () if value is None else value
    if not isinstance(names, str) and isinstance(names, Iterable):
        names = tuple(names)
        if all(isinstance(t, str) for t in names):
            return frozenset(names)
    raise TypeError("function_dump: extra_tag_to_remove must be a list of tag names such as "
                    f"['annotations'], got {value!r}")


class _StripPickler(pickle.Pickler):
    """Pickles graphs without the tag entries in `strip` and without per-node caches."""

    def __init__(self, file: Any, strip: frozenset[str]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.strip = strip

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Tag:
            return Tag, ({k: v for k, v in obj.items() if k not in self.strip},)
        return NotImplemented


def _dumps(obj: Any, strip: frozenset[str]) -> bytes:
    buffer = io.BytesIO()
    _StripPickler(buffer, strip).dump(obj)
    return buffer.getvalue()


def _unpicklable(kwargs: dict[str, Any], strip: frozenset[str], exc: Exception) -> TypeError:
    """The error naming the argument that does not pickle and, in a graph, what inside it."""
    for key, value in kwargs.items():
        failure = _failure(value, strip)
        if failure is None:
            continue
        where = _culprit(value, strip)
        return TypeError(f"function_dump: cannot pickle the argument {key!r}"
                         f"{': ' + where if where else ''} ({type(failure).__name__}: "
                         f"{failure})")
    return TypeError(f"function_dump: cannot pickle the arguments ({type(exc).__name__}: {exc})")


def _failure(obj: Any, strip: frozenset[str]) -> Exception | None:
    try:
        _dumps(obj, strip)
    except Exception as exc:
        return exc
    return None


def _culprit(value: Any, strip: frozenset[str]) -> str:
    """The first Op, tag entry, shared value or constant of the graphs in `value` that does
    not pickle, described for the user ('' when none of them is to blame)."""
    seen: set[Apply] = set()
    for var in ancestors(_variables_in(value)):
        node = var.owner
        if node is not None and node not in seen:
            seen.add(node)
            if _failure(node.op, strip) is not None:
                return f"the Op {node.op} of the node {node}{_built_at(node)}"
            entry = _bad_tag_entry(node.tag, strip)
            if entry is not None:
                return (f"the tag entry {entry!r} of the node {node}{_built_at(node)}; pass "
                        f"extra_tag_to_remove=[{entry!r}] to leave it out of the file")
        entry = _bad_tag_entry(var.tag, strip)
        if entry is not None:
            return (f"the tag entry {entry!r} of the variable {var}; pass "
                    f"extra_tag_to_remove=[{entry!r}] to leave it out of the file")
        if isinstance(var, SharedVariable) and _failure(var.get_value(borrow=True),
                                                         strip) is not None:
            return f"the value of the shared variable {var}"
        if isinstance(var, Constant) and _failure(var.data, strip) is not None:
            return f"the value of the constant {var}"
    return ""


def _bad_tag_entry(tag: Tag, strip: frozenset[str]) -> str | None:
    for key, item in tag.items():
        if key not in strip and _failure(item, strip) is not None:
            return key
    return None


def _built_at(node: Apply) -> str:
    trace = node.tag.get("trace")
    if not trace:
        return ""
    filename, line, _ = trace[0]
    return f" (built at {filename}:{line})"


def _variables_in(value: Any) -> list[Variable]:
    """The symbolic variables an argument of `function` holds (lists, pairs, dicts, In/Out)."""
    found: list[Variable] = []
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, Variable):
            found.append(item)
        elif isinstance(item, In):
            todo += [item.variable, item.update]
        elif isinstance(item, Out):
            todo.append(item.variable)
        elif isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            todo += item
    return found
