"""The differential fuzzer (theanine.testing.fuzz): the CI budget on the backend under test,
and proof that it catches a wrong backend, shrinks the case and prints a reproducer that runs.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import theanine.tensor as T
from theanine.config import config
from theanine.graph.op import Op
from theanine.hookspecs import hookimpl
from theanine.link.backend import select_backend
from theanine.link.python import BACKEND as PYTHON
from theanine.plugins import PluginError, PluginRegistry, use_registry
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import Elemwise
from theanine.tensor.nnet import LogSoftmax
from theanine.testing.fuzz import (
    CI_EXCLUDED,
    FOUND_DEFECTS,
    KNOWN_DEFECTS,
    Code,
    OpSpec,
    all_specs,
    generate,
    reference,
    run_fuzz,
)
from theanine.testing.fuzz.__main__ import main
from theanine.testing.fuzz.case import build, namespace, to_code

BACKEND = select_backend(config.backend).name
NATIVE = BACKEND != "python"
# The CI budget: 5 x 1000 graphs on the Python backend, 4 x 250 (smaller graphs) on C, 2 x 150
# on a device backend (PoCL compiles every new kernel for ~0.1 s), each under every optimizer
# setting; seeds are fixed, so a failure names its graph.  Longer runs: `python -m
# theanine.testing.fuzz --minutes N --backend NAME`.
DEVICE = BACKEND in ("opencl", "cuda")
SEEDS = [101, 102] if DEVICE else [101, 102, 103, 104] if NATIVE else [101, 102, 103, 104, 105]
GRAPHS = 150 if DEVICE else 250 if NATIVE else 1000
MAX_STEPS = 3 if NATIVE else 5


@pytest.mark.parametrize("seed", SEEDS)
def test_no_mismatch_on_the_backend_under_test(seed: int) -> None:
    report = run_fuzz(seed, GRAPHS, backends=[BACKEND], excluded=CI_EXCLUDED,
                      max_steps=MAX_STEPS)
    assert report.graphs == GRAPHS
    assert report.checks == 3 * GRAPHS
    assert report.ok, report.summary()


SWITCHES = frozenset(KNOWN_DEFECTS) | frozenset(FOUND_DEFECTS)


def test_ci_excludes_only_pending_defects_and_tags_name_known_switches() -> None:
    # every other listed defect is fixed: CI fuzzes everything else
    assert CI_EXCLUDED == frozenset()
    tagged = {d for s in all_specs().values() for d in s.defects}
    assert tagged <= SWITCHES


def test_graph_k_of_seed_s_is_repeatable() -> None:
    specs = all_specs()
    for k in range(30):
        a, b = generate(9, k, specs), generate(9, k, specs)
        assert to_code(a, specs) == to_code(b, specs)
    assert to_code(generate(9, 0, specs), specs) != to_code(generate(10, 0, specs), specs)


def test_excluded_defects_are_not_generated() -> None:
    specs = all_specs()
    tagged = {s.name for s in specs.values() if s.defects}
    seen_free = set()
    for k in range(300):
        assert not set(generate(5, k, specs, SWITCHES).ops()) & tagged
        seen_free |= set(generate(5, k, specs).ops()) & tagged
    assert seen_free  # without the exclusion the generator does build them


def test_generator_covers_the_library() -> None:
    report = run_fuzz(11, 400, backends=["python"], optimizers=[None], excluded=CI_EXCLUDED)
    assert report.ok, report.summary()
    assert report.gradients > 50 and report.raising > 0
    specs = all_specs()
    seen: set[str] = set(report.coverage)
    for k in range(2500):  # generating alone is cheap: every declared op must come up
        seen |= set(generate(12, k, specs, CI_EXCLUDED).ops())
    missing = {n for n, s in specs.items() if s.weight > 0 and not s.defects} - seen
    assert not missing, f"ops never generated in 2900 graphs: {sorted(missing)}"


def test_reference_agrees_with_numpy() -> None:
    x = T.dmatrix("x")
    y = T.dvector("y")
    out = T.sum(T.exp(x) * y, axis=0)[::-1]
    xv, yv = np.arange(6.0).reshape(2, 3) / 7, np.array([1.0, -2.0, 0.5])
    (got,) = reference([out], {x: xv, y: yv})
    np.testing.assert_allclose(got, np.sum(np.exp(xv) * yv, axis=0)[::-1])


# A deliberately broken backend -------------------------------------------------------------
def _computes_exp(node) -> bool:
    """An elementwise exp, or a log-softmax (an exp inside one Op)."""
    return (isinstance(node.op, Elemwise) and node.op.scalar_op == ps.exp
            or isinstance(node.op, LogSoftmax))


class _Broken:
    """The Python backend, except that any graph with an exp gets 0.5 added to its first
    non-empty float output."""

    name = "broken"
    priority = -1
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def link(self, fgraph):
        program = PYTHON.link(fgraph)
        has_exp = any(_computes_exp(n) for n in fgraph.toposort())

        def run(*args):
            outs = list(program(*args))
            for k, o in enumerate(outs):
                if has_exp and np.asarray(o).dtype.kind == "f" and np.size(o):
                    outs[k] = np.asarray(o) + np.asarray(0.5, dtype=np.asarray(o).dtype)
                    break
            return outs
        return run


class _BrokenPlugin:
    @hookimpl
    def theanine_register_backends(self, register) -> None:
        register(_Broken())


@pytest.fixture
def broken_registry():
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_BrokenPlugin(), name="broken")
        yield registry


def test_checker_catches_minimizes_and_reproduces(broken_registry) -> None:
    report = run_fuzz(21, 150, backends=["broken"], optimizers=[None], excluded=CI_EXCLUDED)
    assert not report.ok
    specs = all_specs()
    for m in report.mismatches:
        assert m.backend == "broken" and m.kind in ("value", "nan")
        ops = m.case.ops()
        assert len(ops) <= 2, m.reproducer  # shrunk to the exp (and a cost, for a gradient)
        assert "exp" in ops or any(_computes_exp(n) for out in build(m.case, specs).outputs
                                   for n in _nodes(out))
        assert "backend='broken'" in m.reproducer
        with pytest.raises(AssertionError):
            exec(compile(m.reproducer, "<reproducer>", "exec"), {})  # noqa: S102
        assert "Mismatch" not in m.reproducer


class _Lenient(_Broken):
    """The Python backend, except that it returns zeros where the program raises."""

    name = "lenient"

    def link(self, fgraph):
        program = PYTHON.link(fgraph)

        def run(*args):
            try:
                return program(*args)
            except Exception:
                return [np.zeros((0,) * o.ndim, dtype=o.dtype) for o in fgraph.outputs]
        return run


class _LenientPlugin:
    @hookimpl
    def theanine_register_backends(self, register) -> None:
        register(_Lenient())


def test_a_value_where_the_reference_raises_is_a_mismatch() -> None:
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_LenientPlugin(), name="lenient")
        report = run_fuzz(5, 300, backends=["lenient"], optimizers=[None],
                          excluded=CI_EXCLUDED - {"inplace_broadcast"})
        assert report.raising > 0
        assert report.found == report.raising, report.summary()  # every one, nothing else
        assert {m.kind for m in report.mismatches} == {"missing-error"}
        for m in report.mismatches:
            assert m.case.raises
            with pytest.raises(AssertionError, match="the reference raises"):
                exec(compile(m.reproducer, "<reproducer>", "exec"), {})  # noqa: S102


def _nodes(out):
    from theanine.graph.basic import ancestors

    return [v.owner for v in ancestors([out]) if v.owner is not None]


def test_command_exit_status(broken_registry, capsys) -> None:
    assert main(["--graphs", "150", "--seed", "21", "--backend", "broken", "--optimizer",
                 "none", "--exclude-known"]) == 1
    out = capsys.readouterr().out
    assert "mismatch: seed 21, graph" in out and "import theanine as theano" in out
    assert main(["--graphs", "20", "--backend", "python", "--exclude-known", "-v"]) == 0
    assert "coverage (op: graphs)" in capsys.readouterr().out


def test_command_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "theanine.testing.fuzz", "--graphs", "5",
                           "--backend", "python", "--exclude-known"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "5 graphs" in done.stdout


# Plugin ops --------------------------------------------------------------------------------
class _Cube(Op):
    """x ** 3, an Op a plugin brings with its fuzz declaration."""

    def make_node(self, x):
        from theanine.graph.basic import Apply

        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0] ** 3, dtype=node.outputs[0].dtype)

    def grad(self, inputs, output_grads):
        return [3 * inputs[0] ** 2 * output_grads[0]]


class _CubePlugin:
    @hookimpl
    def theanine_register_fuzz_ops(self, register) -> None:
        register(OpSpec("plugin_cube", "_Cube()({0})", dtypes=("float32", "float64"),
                        numpy="{0} ** 3", imports=(f"from {__name__} import _Cube",)))


def test_plugin_ops_join_the_generator() -> None:
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_CubePlugin(), name="cube")
        assert registry.fuzz_ops["plugin_cube"][1] == "cube"
        report = run_fuzz(3, 300, backends=["python"], excluded=CI_EXCLUDED)
    assert report.coverage["plugin_cube"] > 0
    assert report.ok, report.summary()


def test_fuzz_op_registrar_refuses_what_is_not_a_declaration() -> None:
    class Bad:
        @hookimpl
        def theanine_register_fuzz_ops(self, register) -> None:
            register(object())

    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(Bad(), name="bad")
        with pytest.raises(PluginError, match="bad.*fuzz op without 'name'.*OpSpec"):
            _ = registry.fuzz_ops


# Checks beyond the backends: NumPy oracles and forward-mode derivatives ---------------------
class _WrongGradCube(_Cube):
    """x ** 3 with the derivative 2 x ** 2: both the gradient and Rop (built from it) are
    wrong."""

    def grad(self, inputs, output_grads):
        return [2 * inputs[0] ** 2 * output_grads[0]]


class _CheckedPlugin:
    @hookimpl
    def theanine_register_fuzz_ops(self, register) -> None:
        imports = (f"from {__name__} import _Cube, _WrongGradCube",)
        register(OpSpec("plugin_wrong_grad", "_WrongGradCube()({0})", dtypes=("float64",),
                        imports=imports, weight=20))
        register(OpSpec("plugin_wrong_numpy", "_Cube()({0})", dtypes=("float64",),
                        imports=imports, numpy="{0} ** 2", weight=20))


def _kinds_and_reproducers(seed: int, n: int) -> dict[str, list[str]]:
    with use_registry(PluginRegistry(entry_points=False)) as registry:
        registry.register(_CheckedPlugin(), name="checked")
        report = run_fuzz(seed, n, backends=["python"], optimizers=[None], excluded=CI_EXCLUDED)
    found: dict[str, list[str]] = {}
    for m in report.mismatches:
        assert m.backend == "reference", m.reproducer  # the backend agrees with perform
        found.setdefault(m.kind, []).append(m.reproducer)
    return found


def test_reference_checks_catch_wrong_derivatives_and_oracles() -> None:
    found = _kinds_and_reproducers(31, 150)
    assert {"finite-difference", "jvp", "numpy"} <= set(found)
    for kind in ("jvp", "numpy"):
        for code in found[kind]:
            assert "_WrongGradCube" in code if kind == "jvp" else "_Cube" in code
            with pytest.raises(AssertionError):
                exec(compile(code, "<reproducer>", "exec"), {})  # noqa: S102


# The specs of the structured Ops compute what they claim --------------------------------------
def _spec_value(name: str, args: list[np.ndarray], **params) -> np.ndarray:
    specs = all_specs()
    names = [f"a{k}" for k in range(len(args))]
    ns = namespace([specs[name]])
    variables = [T.TensorType(str(a.dtype), (False,) * a.ndim)(n) for a, n in zip(args, names)]
    ns.update(zip(names, variables))
    out = eval(specs[name].render(names, params), ns)  # noqa: S307
    return reference([out], dict(zip(variables, args)))[0]


def test_linalg_specs_compare_sign_free_invariants() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 3)) + 4 * np.eye(3)
    sym = (a + a.T) / 2
    rect = rng.uniform(-1, 1, (3, 2))
    np.testing.assert_allclose(_spec_value("qr_product", [rect], mode="complete"), rect)
    np.testing.assert_allclose(_spec_value("qr_r_abs", [rect]),
                               np.abs(np.linalg.qr(rect, "r")), atol=1e-12)
    np.testing.assert_allclose(_spec_value("svd_values", [rect]),
                               np.linalg.svd(rect, compute_uv=False))
    np.testing.assert_allclose(_spec_value("svd_product", [rect]), rect)
    np.testing.assert_allclose(_spec_value("eigh_values", [a], uplo="L"), np.linalg.eigvalsh(sym))
    np.testing.assert_allclose(_spec_value("eigh_vectors_sq", [a], uplo="U"),
                               np.linalg.eigh(sym)[1] ** 2)
    np.testing.assert_allclose(_spec_value("eigh_product", [a], uplo="L"), sym)
    chol = _spec_value("cholesky", [a], lower=False)
    np.testing.assert_allclose(chol.T @ chol, sym)
    assert np.allclose(chol, np.triu(chol))


def test_argmax_over_several_axes_oracle_is_the_flattened_argmax() -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    spec = all_specs()["argmax_axes"]
    expected = eval(spec.render(["x"], {"axis": (0, 2), "kind": Code("argmax"),  # noqa: S307
                                        "tail": (-2, -1)}, numpy=True), {"np": np, "x": x})
    naive = [int(np.argmax(x[:, j, :].reshape(-1))) for j in range(3)]
    np.testing.assert_array_equal(expected, naive)
    np.testing.assert_array_equal(_spec_value("argmax_axes", [x], axis=(0, 2)), naive)


def test_the_update_check_catches_a_shared_value_overwritten_too_early(monkeypatch) -> None:
    """Without the readers-first orderings, an in-place update overwrites a shared value that
    another node still reads: the training-step variant of the check must see it."""
    from theanine.graph.fg import FunctionGraph

    monkeypatch.setattr(FunctionGraph, "orderings", lambda self, order=None: {})
    report = run_fuzz(7, 150, backends=["python"], optimizers=["fast_run"],
                      excluded=CI_EXCLUDED)
    updates = [m for m in report.mismatches if m.kind == "update"]
    assert updates, report.summary()
    for m in updates:
        assert "givens=[(inputs[0], state)]" in m.reproducer
        with pytest.raises(AssertionError):
            exec(compile(m.reproducer, "<reproducer>", "exec"), {})  # noqa: S102
