"""Shape reads as one node (`ExtentOf`, `rewriting.extents`): `shape(x)[d]` and `SameExtent`
checks of such reads, with the same values and the same run-time refusal of mismatched
lengths, on whichever backend the suite runs."""

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.tensor.basic import ExtentOf, SameExtent, Shape
from theanine.tensor.subtensor import Subtensor

FAST = Mode(optimizer="fast_run")


def of_type(f, op_type):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, op_type)]


def test_a_shape_entry_is_one_node():
    x = T.dtensor3("x")
    f = th.function([x], x.shape[1] * 2 + x.shape[-1], mode=FAST)
    assert f(np.zeros((2, 5, 7))) == 5 * 2 + 7
    assert not of_type(f, Shape) and not of_type(f, Subtensor)
    assert sorted(n.op.dims for n in of_type(f, ExtentOf)) == [(1,), (2,)]


def test_the_mean_gradient_reads_the_batch_size_in_one_checking_node():
    """grad(mean(u * y)) divides by n = the common length of u and y: one ExtentOf over both,
    which still refuses lengths that differ (the graph reads only their shapes there)."""
    u, y = T.dvector("u"), T.dvector("y")
    f = th.function([u, y], T.grad(T.mean(u * y), y), mode=FAST)
    a, b = np.arange(1.0, 5.0), np.ones(4)
    np.testing.assert_allclose(f(a, b), a / 4)
    (read,) = of_type(f, ExtentOf)
    assert read.op.dims == (0, 0) and not of_type(f, SameExtent) and not of_type(f, Shape)
    with pytest.raises(ValueError, match=r"operands have lengths \[3, 4\] there \(u dimension 0, "
                                         r"y dimension 0\)"):
        f(np.ones(3), b)


def test_a_check_of_other_extents_stays_a_same_extent():
    """A SameExtent over something that is not a shape read (here an input) is kept."""
    x, n = T.dvector("x"), T.lscalar("n")
    f = th.function([x, n], SameExtent("t")(x.shape[0], n) + 1, mode=FAST)
    assert f(np.zeros(3), 3) == 4
    with pytest.raises(ValueError, match="operands have lengths"):
        f(np.zeros(3), 5)
    assert of_type(f, SameExtent)


def test_extent_of_checks_its_arguments():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="no dimension 2"):
        ExtentOf((2,))(x)
    with pytest.raises(TypeError, match="reads 2 array"):
        ExtentOf((0, 1))(x)
    assert str(ExtentOf((0, 1), "w")) == "ExtentOf{0,1}"
    assert ExtentOf((0,)) == ExtentOf((0,)) and ExtentOf((0,)) != ExtentOf((1,))


def test_the_unoptimized_graph_keeps_its_shape_nodes():
    """Only the fast_run optimizer collapses shape reads (the rewrite is in its in-place
    stage); fast_compile and no optimizer compute the graph as written."""
    x = T.dmatrix("x")
    for optimizer in ("fast_compile", None):
        f = th.function([x], x.shape[0], mode=Mode(optimizer=optimizer))
        assert f(np.zeros((3, 2))) == 3
        assert not of_type(f, ExtentOf)
