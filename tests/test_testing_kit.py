"""The custom-Op author kit (`theanine.testing`): each check passes on a correct Op and catches
a deliberately broken one (wrong grad, wrong infer_shape, a backend impl that disagrees with
perform); the pytest plugin runs a suite once per backend; the doc and the example run."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.graph.basic import Apply
from theanine.graph.op import Op
from theanine.link.python import BACKEND as PYTHON_BACKEND
from theanine.plugins import PluginRegistry, use_registry
from theanine.testing import (
    BackendMismatchError,
    GradientError,
    InferShapeError,
    check_backends,
    check_infer_shape,
    verify_grad,
)

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


# Ops under test -----------------------------------------------------------------------------
class Cube(Op):
    """x ** 3, elementwise: correct in every respect."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 3

    def grad(self, inputs, output_grads):
        return [output_grads[0] * 3 * inputs[0] ** 2]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes


class CubeWrongGrad(Cube):
    """Forgets the factor 3 in the derivative."""

    def grad(self, inputs, output_grads):
        return [output_grads[0] * inputs[0] ** 2]


class RowSums(Op):
    """Sums of the rows of a matrix: a vector as long as the matrix has rows."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [T.TensorType(x.dtype, (False,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].sum(axis=1)

    def grad(self, inputs, output_grads):
        return [output_grads[0].dimshuffle(0, "x") * T.ones_like(inputs[0])]

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0],)]


class RowSumsWrongShape(RowSums):
    """Says the result is as long as the matrix has columns."""

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][1],)]


class RowSumsWrongRank(RowSums):
    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class TwoOutputs(Op):
    """(x + y, x * y): checks the kit differentiates every output."""

    def make_node(self, x, y):
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        return Apply(self, [x, y], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        output_storage[0][0] = x + y
        output_storage[1][0] = x * y

    def grad(self, inputs, output_grads):
        x, y = inputs
        g_sum, g_prod = output_grads
        return [g_sum + g_prod * y, g_sum + g_prod * x * self.wrong_factor]

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0], input_shapes[0]]

    wrong_factor = 1


class TwoOutputsWrongSecondGrad(TwoOutputs):
    wrong_factor = 2


class CubeWrongDtype(Cube):
    """perform computes in float64 whatever the declared output type."""

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].astype("float64") ** 3


class CubeInPlace(Cube):
    """Writes into its input without declaring a destroy_map."""

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        x **= 3
        output_storage[0][0] = x


class WrongPythonImpl:
    """A plugin registering, for Cube on the python backend, a thunk that returns x ** 3 + 1e-3
    (and the correct value for every other Op)."""

    @theanine.hookimpl
    def theanine_register_op_impls(self, register):
        register(Cube, "python", lambda node: lambda x: [x ** 3 + 1e-3])


class TwinBackend:
    """A second backend (it runs the Python backend's programs), to have two to compare."""

    priority = -1
    required_tags: frozenset[str] = frozenset()
    incompatible_tags: frozenset[str] = frozenset()

    def __init__(self, name="twin", available=(True, "")):
        self.name = name
        self.available = available
        self.links = 0

    def is_available(self):
        return self.available

    def link(self, fgraph):
        self.links += 1
        return PYTHON_BACKEND.link(fgraph)


class BackendPlugin:
    def __init__(self, *backends):
        self.backends = backends

    @theanine.hookimpl
    def theanine_register_backends(self, register):
        for b in self.backends:
            register(b)


@pytest.fixture
def registry():
    reg = PluginRegistry(entry_points=False)
    with use_registry(reg):
        yield reg


# verify_grad --------------------------------------------------------------------------------
def test_verify_grad_accepts_a_correct_op(rng):
    verify_grad(Cube(), [rng.normal(size=(3, 4))])
    verify_grad(lambda x: Cube()(x).sum(axis=0), [rng.normal(size=(3, 4))])


def test_verify_grad_catches_a_wrong_grad(rng):
    with pytest.raises(GradientError, match=r"CubeWrongGrad.*input 0"):
        verify_grad(CubeWrongGrad(), [rng.normal(size=(3, 4))])


def test_verify_grad_checks_every_output(rng):
    pt = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    verify_grad(TwoOutputs(), pt)
    with pytest.raises(GradientError, match="input 1"):
        verify_grad(TwoOutputsWrongSecondGrad(), pt)


def test_verify_grad_with_an_integer_argument_closed_over(rng):
    labels = T.constant(np.array([2, 0, 1]))
    verify_grad(lambda p: -T.log(Cube()(p))[T.arange(3), labels], [rng.uniform(1, 2, (3, 4))])


# check_infer_shape --------------------------------------------------------------------------
def test_check_infer_shape_accepts_correct_ops(rng):
    check_infer_shape(RowSums(), [rng.normal(size=(3, 5))])
    check_infer_shape(Cube(), [rng.normal(size=(0, 2, 3))])
    check_infer_shape(TwoOutputs(), [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))])
    check_infer_shape(lambda x: T.repeat(x, 2, axis=0), [rng.normal(size=(2, 3))])


def test_check_infer_shape_catches_a_wrong_shape(rng):
    with pytest.raises(InferShapeError, match=r"output 0 has shape \(5,\).*\(3,\)"):
        check_infer_shape(RowSumsWrongShape(), [rng.normal(size=(3, 5))])


def test_check_infer_shape_catches_a_wrong_rank(rng):
    with pytest.raises(InferShapeError, match="2 entries for output 0, which has 1"):
        check_infer_shape(RowSumsWrongRank(), [rng.normal(size=(3, 5))])


def test_check_infer_shape_names_a_missing_infer_shape(rng):
    class NoShape(Cube):
        def infer_shape(self, fgraph, node, input_shapes):
            raise NotImplementedError("not written yet")

    with pytest.raises(InferShapeError, match="NoShape has no infer_shape: not written yet"):
        check_infer_shape(NoShape(), [rng.normal(size=(2,))])


def test_check_infer_shape_with_broadcastable_variables(rng):
    row, m = T.row("r", dtype="float64"), T.dmatrix("m")
    check_infer_shape(lambda a, b: a * b, [rng.normal(size=(1, 4)), rng.normal(size=(3, 4))],
                      variables=[row, m])


# check_backends -----------------------------------------------------------------------------
def test_check_backends_runs_every_available_backend(registry, rng):
    twin, absent = TwinBackend(), TwinBackend("absent", (False, "no such device"))
    registry.register(BackendPlugin(twin, absent))
    checked = check_backends(Cube(), [rng.normal(size=(3, 4))])
    assert checked == ["python", "twin"]
    assert twin.links == 1
    assert check_backends(Cube(), [rng.normal(size=(2,))], backends=["twin"]) == ["twin"]
    with pytest.raises(RuntimeError, match="'absent' is not available: no such device"):
        check_backends(Cube(), [rng.normal(size=(2,))], backends=["absent"])


def test_check_backends_catches_an_impl_that_disagrees_with_perform(registry, rng):
    xv = rng.normal(size=(3, 4))
    assert check_backends(Cube(), [xv]) == ["python"]
    registry.register(WrongPythonImpl())
    with pytest.raises(BackendMismatchError,
                       match=r"backend 'python' on Cube \(output 0.*differs from perform at 12 "
                             r"of 12 entries"):
        check_backends(Cube(), [xv])
    # The tolerances are the caller's to loosen.
    check_backends(Cube(), [xv], rtol=0, atol=2e-3)


def test_check_backends_on_a_function_of_the_inputs(registry, rng):
    """The node checked is the one computing the result; its inputs may be intermediate."""
    registry.register(WrongPythonImpl())
    xv = rng.normal(size=(3,))
    check_backends(lambda x: T.exp(x) * 2, [xv])
    with pytest.raises(BackendMismatchError, match="Cube"):
        check_backends(lambda x: Cube()(T.exp(x)), [xv])


def test_check_backends_catches_perform_breaking_its_output_type(rng):
    with pytest.raises(BackendMismatchError,
                       match=r"CubeWrongDtype.perform returned a value of dtype float64 for an "
                             r"output of type TensorType\(float32"):
        check_backends(CubeWrongDtype(), [rng.normal(size=(3,)).astype("float32")])


def test_check_backends_catches_perform_writing_into_its_input(rng):
    with pytest.raises(BackendMismatchError, match="modified its input 0"):
        check_backends(CubeInPlace(), [rng.normal(size=(3,))])


def test_check_backends_on_library_ops(rng):
    xv = rng.normal(size=(4, 5))
    assert "python" in check_backends(T.nnet.Softmax(1), [xv])
    check_backends(T.Split(2, 1), [xv, np.array([2, 3])])
    check_backends(T.Sort(0, "stable"), [np.round(xv)])


# The pytest plugin --------------------------------------------------------------------------
# The suites run in a subprocess: an in-process run would drop, afterwards, every module it
# imported first, and their re-imports would bring second copies of classes into this process.
CONFTEST = """
import theanine
import theanine.plugins
from theanine.link.python import BACKEND


class Twin:
    priority = -1
    required_tags = frozenset()
    incompatible_tags = frozenset()

    def __init__(self, name, available):
        self.name, self.available = name, available

    def is_available(self):
        return self.available

    def link(self, fgraph):
        return BACKEND.link(fgraph)


class Plugin:
    @theanine.hookimpl
    def theanine_register_backends(self, register):
        register(Twin("twin", (True, "")))
        register(Twin("absent", (False, "no device here")))


theanine.plugins.register(Plugin())
"""

SUITE = """
import numpy as np
import theanine
import theanine.tensor as T


def test_function_runs_on_the_backend(theanine_backend):
    assert theanine.config.backend == theanine_backend
    x = T.dvector("x")
    f = theanine.function([x], 2 * x)
    assert f.maker.backend.name == theanine_backend
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_without_the_fixture():
    pass
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    # Only the plugin named with -p (an installed pytest11 entry point would load it twice),
    # and no installed theanine plugins: the backends are the built-in one and the conftest's.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("THEANINE_PLUGINS", "none")
    monkeypatch.delenv("THEANINE_FLAGS", raising=False)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def _run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "theanine.testing.pytest_plugin", "-v", *args)


def test_pytest_plugin_runs_once_per_backend(suite):
    suite.makeconftest(CONFTEST)
    result = _run(suite, "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines([
        "theanine backends: absent (unavailable: no device here), python, twin",
        "*test_function_runs_on_the_backend?absent? SKIPPED*",
        "*test_function_runs_on_the_backend?python? PASSED*",
        "*test_function_runs_on_the_backend?twin? PASSED*",
        "*test_without_the_fixture PASSED*",
        "SKIPPED*theanine backend 'absent' is not available: no device here",
    ])


def test_pytest_plugin_option_selects_backends(suite):
    suite.makeconftest(CONFTEST)
    result = _run(suite, "--theanine-backend=twin")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_function_runs_on_the_backend?twin? PASSED*"])
    result = _run(suite, "--theanine-backend", "python,twin",
                  "--theanine-backend=python")
    result.assert_outcomes(passed=3)


def test_pytest_plugin_rejects_an_unknown_backend(suite):
    result = _run(suite, "--theanine-backend=cuda9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--theanine-backend: unknown backend(s) cuda9; registered "
                                 "backends: python*"])


# The doc and the example run as written -----------------------------------------------------
def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_writing_an_op_doc_runs(suite):
    """The doc's blocks, in order, make one test module; pytest runs it with the plugin."""
    blocks = _python_blocks(ROOT / "docs" / "writing-an-op.md")
    assert len(blocks) >= 6
    suite.makepyfile(test_writing_an_op="\n".join(blocks))
    result = _run(suite, "test_writing_an_op.py", "-s")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*caught: RowSoftmaxWrongGrad: verify_grad: gradient*",
                                 "*test_row_softmax_matches_numpy?python-shape2? PASSED*"])


def test_custom_op_example_runs(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["custom_op.py"])
    runpy.run_path(str(ROOT / "examples" / "custom_op.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "verify_grad: ok" in out and "check_infer_shape: ok" in out
    assert re.search(r"check_backends: ok \((\w+, )*python", out)
