"""Random draws with symbolic sizes, as ported Theano code writes them (issue 11), for
`RandomStreams` (checked against NumPy's RandomState, seeded as Theano seeded it) and
`MRG_RandomStreams` (checked by shape, range and moments); and the layering rule: the random
streams do not import the compile layer when they are loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import theanine as th
import theanine.tensor as T
from theanine.sandbox.rng_mrg import MRG_RandomStreams
from theanine.tensor.shared_randomstreams import RandomStreams


def twin_of(rv) -> np.random.RandomState:
    """A RandomState in the state `rv`'s generator is in now."""
    twin = np.random.RandomState()
    twin.set_state(rv.rng.get_value().get_state())
    return twin


def test_normal_with_a_size_built_from_a_shape_entry(rng):
    srng = RandomStreams(234)
    x = T.dmatrix("x")
    z = srng.normal(size=(x.shape[0], 3), dtype="float64")
    assert z.ndim == 2 and z.broadcastable == (False, False)
    f = th.function([x], z)
    for rows in (4, 1, 6):
        twin = twin_of(z)
        got = f(np.zeros((rows, 5)))
        np.testing.assert_array_equal(got, twin.normal(0.0, 1.0, (rows, 3)))


def test_binomial_with_the_shape_of_its_probabilities(rng):
    srng = RandomStreams(5)
    p = T.dmatrix("p")
    mask = srng.binomial(size=p.shape, p=p)
    f = th.function([p], mask)
    pv = rng.uniform(size=(3, 7))
    twin = twin_of(mask)
    got = f(pv)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, twin.binomial(1, pv, (3, 7)))
    got = f(pv[:2, :4])  # another shape at the next call
    np.testing.assert_array_equal(got, twin.binomial(1, pv[:2, :4], (2, 4)))


def test_uniform_with_a_symbolic_scalar_count():
    srng = RandomStreams(9)
    n = T.iscalar("n")
    u = srng.uniform(size=(n,), low=-2.0, high=3.0, dtype="float64")
    v = srng.uniform(size=n, dtype="float64")  # a bare scalar is a one-dimensional size
    f = th.function([n], [u, v])
    twin_u, twin_v = twin_of(u), twin_of(v)
    got_u, got_v = f(11)
    np.testing.assert_array_equal(got_u, twin_u.uniform(-2.0, 3.0, (11,)))
    np.testing.assert_array_equal(got_v, twin_v.uniform(0.0, 1.0, (11,)))
    assert f(0)[0].shape == (0,)


def test_a_size_vector_of_unknown_length_needs_ndim():
    srng = RandomStreams(1)
    shape = T.lvector("shape")
    with pytest.raises(ValueError, match="length of the symbolic size shape .* is unknown; "
                                         ".* or give ndim"):
        srng.normal(size=shape)
    z = srng.normal(size=shape, ndim=2, dtype="float64")
    f = th.function([shape], z)
    twin = twin_of(z)
    np.testing.assert_array_equal(f(np.array([2, 5])), twin.normal(0.0, 1.0, (2, 5)))
    with pytest.raises(ValueError, match="expected 2 dimension"):
        f(np.array([2, 5, 1]))


@pytest.mark.parametrize("how", ["shape entry", "shape vector", "scalar count",
                                 "vector with ndim"])
def test_mrg_draws_with_symbolic_sizes(how):
    mrg = MRG_RandomStreams(1234)
    x = T.dmatrix("x")
    n = T.lscalar("n")
    size, want = {
        "shape entry": ((x.shape[0], 3), (5, 3)),
        "shape vector": (x.shape, (5, 7)),
        "scalar count": ((n,), (9,)),
        "vector with ndim": (T.stack([n, x.shape[1]]), (9, 7)),
    }[how]
    ndim = 2 if how == "vector with ndim" else None
    u = mrg.uniform(size=size, low=2.0, high=4.0, ndim=ndim, dtype="float64")
    z = mrg.normal(size=size, avg=1.0, std=0.5, ndim=ndim, dtype="float64")
    b = mrg.binomial(size=size, p=0.25, ndim=ndim, dtype="float64")
    f = th.function([x, n], [u, z, b], on_unused_input="ignore")
    got_u, got_z, got_b = f(np.zeros((5, 7)), 9)
    for got in (got_u, got_z, got_b):
        assert got.shape == want and got.dtype == np.float64
    assert np.all((got_u > 2.0) & (got_u < 4.0))
    assert set(np.unique(got_b)) <= {0.0, 1.0}
    # the same draws on a larger call, for the moments
    big = th.function([x, n], [u, z, b], on_unused_input="ignore")
    ub, zb, bb = big(np.zeros((4000, 7)), 4000 * 7)
    assert abs(ub.mean() - 3.0) < 0.02
    assert abs(zb.mean() - 1.0) < 0.02 and abs(zb.std() - 0.5) < 0.02
    assert abs(bb.mean() - 0.25) < 0.02


def test_mrg_normal_of_an_odd_symbolic_count_and_new_numbers_each_call():
    mrg = MRG_RandomStreams(99)
    n = T.lscalar("n")
    z = mrg.normal(size=(n, 3), dtype="float64")  # 3n values: odd for odd n
    f = th.function([n], z)
    first, second = f(5), f(5)
    assert first.shape == second.shape == (5, 3)
    assert not np.array_equal(first, second)
    assert np.all(np.isfinite(f(1)))


def test_mrg_dropout_mask_with_the_shape_of_its_input(rng):
    # the usual idiom: mask = srng.binomial(size=x.shape, p=1 - p_drop, dtype=floatX)
    mrg = MRG_RandomStreams(2)
    x = T.dmatrix("x")
    mask = mrg.binomial(size=x.shape, p=0.8, dtype="float64")
    dropped = x * mask / 0.8
    f = th.function([x], [dropped, mask])
    xv = rng.standard_normal((300, 40))
    out, m = f(xv)
    np.testing.assert_allclose(out, xv * m / 0.8, rtol=1e-12)
    assert abs(m.mean() - 0.8) < 0.02


def test_a_non_integer_size_entry_is_explained():
    srng = RandomStreams(1)
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match=r"size entry .* is not an integer scalar"):
        srng.normal(size=(x.sum(), 3))
    with pytest.raises(TypeError, match="size must hold integers"):
        MRG_RandomStreams(1).uniform(size=T.dvector("v"))


# Layering -------------------------------------------------------------------------------
RANDOM_MODULES = [
    "tensor/random/__init__.py", "tensor/random/basic.py", "tensor/random/mrg.py",
    "tensor/random/mrg_ops.py", "tensor/random/mrg_streams.py", "tensor/random/op.py",
    "tensor/random/samplers.py", "tensor/random/streams.py", "tensor/shared_randomstreams.py",
]


def _module_level_imports(path: Path) -> list[str]:
    """Modules imported when `path` is loaded: imports outside functions (an
    `if TYPE_CHECKING:` block never runs)."""
    names = []

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                names.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.append(node.module or "")
            elif isinstance(node, ast.If) and ast.unparse(node.test) != "TYPE_CHECKING":
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text()).body)
    return names


@pytest.mark.parametrize("module", RANDOM_MODULES)
def test_random_streams_do_not_import_a_higher_layer_when_loaded(module):
    root = Path(th.__file__).parent
    higher = ("theanine.compile", "theanine.link", "theanine.scan_module")
    imports = _module_level_imports(root / module)
    assert imports  # the parse found the module's imports
    assert not [m for m in imports if m.startswith(higher)]


def test_random_state_type_still_resolves():
    from theanine.tensor.random import random_state_type
    from theanine.tensor.sharedvar import GenericType

    srng = RandomStreams(3)
    z = srng.normal((2,))
    assert random_state_type == GenericType(np.random.RandomState) == z.rng.type
    assert z.owner.outputs[0].type == random_state_type
    with pytest.raises(TypeError, match="first input must be a RandomState variable"):
        type(z.owner.op)("normal", "float64", (False,)).make_node(T.dvector("v"), [2])
