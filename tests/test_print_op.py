"""`theanine.printing.Print`: Theano's identity Op that prints a value as it flows, in Theano's
format, kept by every rewrite, with the identity gradient."""

from __future__ import annotations

import numpy as np
import pytest

import theanine
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.printing import Print


@pytest.mark.parametrize("optimizer", ["fast_run", "fast_compile", None])
def test_prints_message_and_str_in_theanos_format_and_passes_the_value(capsys, optimizer):
    x = T.dvector("x")
    f = theanine.function([x], T.exp(Print("x is")(x * 2)) + 1, mode=Mode(optimizer=optimizer))
    xv = np.array([0.5, -1.0])
    np.testing.assert_allclose(f(xv), np.exp(xv * 2) + 1)
    assert capsys.readouterr().out == f"x is __str__ = {xv * 2}\n"
    f(xv + 1)
    assert capsys.readouterr().out == f"x is __str__ = {(xv + 1) * 2}\n"  # at every call


def test_attrs_are_printed_in_order_and_methods_are_called(capsys):
    x = T.dmatrix("x")
    f = theanine.function([x], Print("m", attrs=("shape", "sum", "dtype"))(x).sum())
    xv = np.arange(6.0).reshape(2, 3)
    assert f(xv) == xv.sum()
    assert capsys.readouterr().out == f"m shape = (2, 3)\nm sum = {xv.sum()}\nm dtype = float64\n"


def test_constant_input_is_printed_at_call_time_not_folded(capsys):
    x = T.dvector("x")
    c = np.array([3.0, 4.0])
    f = theanine.function([x], Print("c")(T.constant(c)) * 2 + x)
    assert capsys.readouterr().out == ""  # nothing printed while compiling
    np.testing.assert_allclose(f(np.ones(2)), c * 2 + 1)
    assert capsys.readouterr().out == f"c __str__ = {c}\n"


def test_two_prints_with_different_messages_both_print(capsys):
    x = T.dvector("x")
    y = Print("first")(x) + Print("second")(x)
    f = theanine.function([x], y)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(xv), 2 * xv)
    assert sorted(capsys.readouterr().out.splitlines()) == [f"first __str__ = {xv}",
                                                            f"second __str__ = {xv}"]


def test_print_between_elementwise_ops_shows_the_unfused_intermediate(capsys):
    x = T.dvector("x")
    mid = Print("mid")(T.sin(x) * 3)
    f = theanine.function([x], T.tanh(mid) - mid)
    xv = np.array([0.1, 0.7])
    inner = np.sin(xv) * 3
    np.testing.assert_allclose(f(xv), np.tanh(inner) - inner)
    assert capsys.readouterr().out == f"mid __str__ = {inner}\n"
    assert sum(isinstance(n.op, Print) for n in f.maker.fgraph.apply_nodes) == 1


def test_gradient_is_the_identity(capsys):
    x = T.dvector("x")
    cost = (Print("x")(x) ** 3).sum()
    g = theanine.function([x], theanine.grad(cost, x))
    xv = np.array([0.5, -2.0])
    np.testing.assert_allclose(g(xv), 3 * xv ** 2)
    eps = 1e-6
    f = theanine.function([x], cost)
    numeric = [(f(xv + eps * e) - f(xv - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(g(xv), numeric, rtol=1e-6)
    capsys.readouterr()


def test_global_fn_replaces_printing_and_output_does_not_alias_the_input():
    seen = []
    x = T.dvector("x")
    f = theanine.function([x], Print("m", global_fn=lambda op, v: seen.append(
        (op.message, v.copy())))(x))
    xv = np.array([1.0, 2.0])
    out = f(xv)
    np.testing.assert_array_equal(out, xv)
    assert not np.shares_memory(out, xv)  # a view of an input is copied, as any view is
    assert seen[0][0] == "m" and seen[0][1].tolist() == [1.0, 2.0]


def test_bad_attrs_are_refused_by_name():
    with pytest.raises(TypeError, match=r"Print\('m'\): attrs must be a sequence of attribute "
                                        r"names such as \('shape',\), got 'shape'"):
        Print("m", attrs="shape")
