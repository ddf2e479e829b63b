"""Theano 1.0's compile API and top-level names (issue 11): dot, clone, change_flags, Param,
_asarray, gof, as_op, pfunc, modes, function()/In/shared options.  Results are checked
against NumPy or a naive loop."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import theanine as theano
import theanine.tensor as T
from theanine.compile import io as compile_io
from theanine.compile.ops import as_op
from theanine.config import config
from theanine.graph.basic import Constant
from theanine.scalar import basic as ps
from theanine.tensor.elemwise import Elemwise


def _ops(f):
    return [n.op for n in f.maker.fgraph.toposort()]


# Top-level names --------------------------------------------------------------------------
def test_dot_matches_numpy(rng):
    a, b, v = T.dmatrix("a"), T.dmatrix("b"), T.dvector("v")
    f = theano.function([a, b, v], [theano.dot(a, b), theano.dot(a, v)])
    av, bv, vv = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(4)
    mm, mv = f(av, bv, vv)
    np.testing.assert_allclose(mm, av @ bv, rtol=1e-12)
    np.testing.assert_allclose(mv, av @ vv, rtol=1e-12)


def test_clone_with_replace_keeps_the_original():
    x, y = T.dvector("x"), T.dvector("y")
    out = T.exp(x) * 2
    new = theano.clone(out, replace={x: y})
    f = theano.function([x, y], [out, new])
    xv, yv = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    a, b = f(xv, yv)
    np.testing.assert_allclose(a, np.exp(xv) * 2)
    np.testing.assert_allclose(b, np.exp(yv) * 2)
    # a list and (old, new) pairs work too; the copy is made of new nodes
    (same,) = theano.clone([out], replace=[(x, x)])
    assert same is not out and same.owner is not out.owner


def test_clone_strict_and_share_inputs():
    x = T.dvector("x")
    s = theano.shared(np.array([1.0, 2.0]), name="s")
    out = x * s
    with pytest.raises(TypeError, match="replacement for x has type .*float32.*strict=False"):
        theano.clone(out, replace={x: T.fvector("xf")})
    xf = T.fvector("xf")
    loose = theano.clone(out, replace={x: xf}, strict=False)
    assert loose.dtype == "float64"  # float32 * float64, rebuilt through make_node
    np.testing.assert_allclose(theano.function([xf], loose)(np.float32([3, 4])), [3.0, 8.0])

    shared_in = theano.clone(out)
    assert set(theano.gof.graph.inputs([shared_in])) == {x, s}
    own = theano.clone(out, share_inputs=False)
    fresh = theano.gof.graph.inputs([own])
    assert x not in fresh and s not in fresh and len(fresh) == 2
    s2 = next(v for v in fresh if isinstance(v, theano.SharedVariable))
    s.set_value(np.array([10.0, 20.0]))
    x2 = next(v for v in fresh if v is not s2)
    np.testing.assert_allclose(theano.function([x2], own)(np.ones(2)), [10.0, 20.0])


def test_clone_refuses_non_variables():
    with pytest.raises(TypeError, match="clone: output 0 is int 3"):
        theano.clone([3])
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="replace must be a dict or"):
        theano.clone(x * 2, replace=[x])


def test_change_flags_context_manager_and_decorator():
    before = config.floatX

    @theano.change_flags(floatX="float64")
    def make():
        return T.matrix().dtype

    with theano.change_flags({"floatX": "float16"}):
        assert T.vector().dtype == "float16"
    assert make() == "float64" and make() == "float64"
    assert config.floatX == before


def test_param_is_a_deprecated_in_that_warns_once(monkeypatch):
    monkeypatch.setattr(compile_io, "_PARAM_WARNED", [])
    x, y = T.dscalar("x"), T.dscalar("y")
    with pytest.warns(DeprecationWarning, match="Param is deprecated"):
        p = theano.Param(y, default=3.0, name="why")
    assert isinstance(p, theano.In)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theano.Param(x)  # no second warning
    f = theano.function([x, p], x * y)
    assert f(2.0) == 6.0 and f(2.0, why=5.0) == 10.0 and f(2.0, 4.0) == 8.0


def test_asarray():
    a = theano._asarray([1, 2], dtype="int32")
    assert a.dtype == np.int32 and a.tolist() == [1, 2]
    with config.change_flags(floatX="float64"):
        assert theano._asarray([0.5], dtype="floatX").dtype == np.float64
    assert theano._asarray(np.ones((2, 2)), "float32", order="F").flags.f_contiguous
    with pytest.raises(TypeError, match="dtype 'float8' is not a NumPy dtype"):
        theano._asarray([1], dtype="float8")


# gof: custom Ops written Theano's way -------------------------------------------------------
class DoubleOp(theano.gof.Op):
    """Theano's tutorial Op: make_node, perform, and infer_shape(node, shapes)."""

    __props__ = ()
    performed = 0

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        type(self).performed += 1
        output_storage[0][0] = inputs[0] * 2

    def infer_shape(self, node, i0_shapes):
        return i0_shapes

    def grad(self, inputs, output_grads):
        return [output_grads[0] * 2]


class TypedOp(theano.Op):
    """Fixed itypes/otypes: the base class builds the node."""

    itypes = [T.dmatrix().type]
    otypes = [T.dvector().type]

    def __init__(self, axis):
        self.axis = axis  # no __props__: instances compare by identity

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].sum(axis=self.axis)


def test_theano_style_op_runs_infers_shapes_and_differentiates(rng):
    x = T.dmatrix("x")
    xv = rng.standard_normal((3, 4))
    f = theano.function([x], DoubleOp()(x))
    np.testing.assert_allclose(f(xv), xv * 2)
    node = DoubleOp()(x).owner
    assert node.op.infer_shape(None, node, [(3, 4)]) == [(3, 4)]
    DoubleOp.performed = 0
    shape = theano.function([x], [DoubleOp()(x).shape[0], DoubleOp()(x).shape[1]])
    assert shape(xv) == [3, 4]
    assert DoubleOp.performed == 0  # the shape came from infer_shape, not from running it
    theano.verify_grad(lambda a: DoubleOp()(a).sum(), [xv], rng=np.random.RandomState(0))


def test_itypes_otypes_op_and_identity_equality(rng):
    x = T.dmatrix("x")
    a, b = TypedOp(0), TypedOp(1)
    assert a != TypedOp(0) and a == a and DoubleOp() == DoubleOp()
    f = theano.function([x], [a(x), b(x)])
    xv = rng.standard_normal((3, 4))
    r0, r1 = f(xv)
    np.testing.assert_allclose(r0, xv.sum(0))
    np.testing.assert_allclose(r1, xv.sum(1))
    with pytest.raises(TypeError, match=r"TypedOp: input 0 \(v\) has type .*itypes says"):
        a(T.dvector("v"))
    with pytest.raises(TypeError, match=r"TypedOp takes 1 input\(s\)"):
        a(x, x)


def test_gof_names():
    g = theano.gof
    assert g.Apply is theano.Apply and g.Variable is theano.Variable
    assert g.Constant is Constant and g.Type is theano.Type
    assert issubclass(g.utils.MethodNotDefined, NotImplementedError)
    x, y = T.dscalar("x"), T.dscalar("y")
    out = (x + y) * 2
    leaves = g.graph.inputs([out])  # constants included, as in Theano
    assert {v for v in leaves if not isinstance(v, Constant)} == {x, y} and len(leaves) == 3
    fg = g.FunctionGraph([x, y], [out])
    assert len(fg.apply_nodes) == 2
    (nx, ny), (nout,) = g.graph.clone([x, y], [out])
    assert nx is not x and nout is not out
    assert {v for v in g.graph.inputs([nout]) if not isinstance(v, Constant)} == {nx, ny}
    equiv = g.graph.clone_get_equiv([x, y], [out], copy_inputs=False)
    assert equiv[x] is x and equiv[out] is not out
    assert {v for v in g.graph.inputs([equiv[out]]) if not isinstance(v, Constant)} == {x, y}
    f = theano.function([x, y], equiv[out])
    assert f(1.0, 2.0) == 6.0


# as_op ------------------------------------------------------------------------------------
@as_op(itypes=[T.dmatrix().type, T.dvector().type], otypes=[T.dmatrix().type],
       infer_shape=lambda node, shapes: [shapes[0]])
def scaled_rows(m, v):
    return m * v[:, None]


@as_op(itypes=[T.dvector], otypes=[T.dvector, T.lscalar])
def sort_and_argmax(v):
    return np.sort(v), np.argmax(v)


def test_as_op_computes_like_the_function(rng):
    m, v = T.dmatrix("m"), T.dvector("v")
    f = theano.function([m, v], scaled_rows(m, v) + 1)
    mv, vv = rng.standard_normal((3, 2)), rng.standard_normal(3)
    np.testing.assert_allclose(f(mv, vv), mv * vv[:, None] + 1)
    s, k = sort_and_argmax(v)
    g = theano.function([v], [s, k])
    ss, kk = g(vv)
    np.testing.assert_array_equal(ss, np.sort(vv))
    assert kk == np.argmax(vv) and kk.dtype == np.int64
    shape = theano.function([m, v], [scaled_rows(m, v).shape[0], scaled_rows(m, v).shape[1]])
    assert shape(mv, vv) == [3, 2]
    assert not any(isinstance(op, type(scaled_rows)) for op in _ops(shape))


def test_as_op_errors():
    with pytest.raises(TypeError, match=r"itypes must be a list of types \(e.g. \[T.dmatrix\]\)"):
        as_op(itypes=T.dmatrix().type, otypes=[])
    with pytest.raises(TypeError, match="input 0 .* has type TensorType\\(float32"):
        scaled_rows(T.fmatrix("m"), T.dvector("v"))

    @as_op(itypes=[T.dvector().type], otypes=[T.dmatrix().type])
    def flat(v):
        return v * 2

    v = T.dvector("v")
    with pytest.raises(ValueError, match="flat returned output 0 with 1 dimension"):
        theano.function([v], flat(v))(np.ones(2))
    with pytest.raises(TypeError, match="defined inside another function"):
        pickle.dumps(flat)

    @as_op(itypes=[T.dvector().type], otypes=[T.dvector().type, T.dvector().type])
    def one_of_two(v):
        return v

    with pytest.raises(ValueError, match="one_of_two must return 2 values"):
        theano.function([v], one_of_two(v))(np.ones(2))

    @as_op(itypes=[T.dvector().type], otypes=[T.dvector().type])
    def listed(v):
        return [v + 1]  # a list holds the outputs, as in Theano

    assert theano.function([v], listed(v))(np.ones(2)).tolist() == [2.0, 2.0]


def test_as_op_pickles_by_reference():
    assert pickle.loads(pickle.dumps(scaled_rows)) is scaled_rows


# pfunc and modes --------------------------------------------------------------------------
def test_pfunc_and_compile_function():
    x, y = T.dscalar("x"), T.dscalar("y")
    assert theano.compile.function is theano.function
    f = theano.compile.pfunc([x, theano.In(y, value=4.0)], [x + y, x * y],
                             output_keys=["sum", "prod"])
    assert f(3.0) == {"sum": 7.0, "prod": 12.0}
    g = theano.compile.pfunc([x], x - 1)
    assert g(3.0) == 2.0
    with pytest.raises(TypeError, match="pfunc param 0 is 3: expected a symbolic variable"):
        theano.compile.pfunc([3], x)


@pytest.mark.parametrize("name", ["FAST_RUN", "FAST_COMPILE", "Mode", "DebugMode", "DEBUG_MODE",
                                  "NanGuardMode", "ProfileMode", "fast_run"])
def test_mode_names_compile_and_run(name, rng):
    x = T.dvector("x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = theano.function([x], T.exp(x) * 2 + 1, mode=name)
    xv = rng.standard_normal(5)
    np.testing.assert_allclose(f(xv), np.exp(xv) * 2 + 1)


def test_debugging_modes_run_and_profile_mode_profiles(rng):
    x = T.dvector("x")
    xv = rng.standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profile = theano.ProfileMode()
        modes = [theano.compile.DebugMode(check_isfinite=False),
                 theano.compile.NanGuardMode(nan_is_error=True),
                 theano.compile.MonitorMode(pre_func=lambda i, node, fn: None)]
    for mode in [profile, *modes]:
        f = theano.function([x], T.log(T.exp(x)) + 1, mode=mode)
        np.testing.assert_allclose(f(xv), xv + 1)
    assert profile.profile_stats.fct_callcount == 1
    from theanine.compile.nanguardmode import NanGuardMode

    assert NanGuardMode is theano.compile.NanGuardMode


def test_unknown_mode_names_the_choices():
    x = T.dscalar("x")
    with pytest.raises(ValueError, match="unknown mode 'FAST'; use one of FAST_RUN, "):
        theano.function([x], x, mode="FAST")
    with pytest.raises(TypeError, match="mode must be a Mode or a mode name"):
        theano.function([x], x, mode=3)
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        theano.function([x], x, mode=theano.Mode(linker="fast"))
    with pytest.raises(ValueError, match="unknown optimizer 'o9'"):
        theano.Mode(optimizer="o9")


def _composites(f):
    return [op for op in _ops(f) if isinstance(op, Elemwise) and "Composite" in str(op)]


def test_including_excluding_requiring(rng):
    x, y = T.dvector("x"), T.dvector("y")
    expr = T.exp(x) * y + T.log(y)
    base = theano.Mode()
    xv, yv = rng.standard_normal(4), rng.random(4) + 0.5
    expected = np.exp(xv) * yv + np.log(yv)
    fused = theano.function([x, y], expr, mode=base)
    unfused = theano.function([x, y], expr, mode=base.excluding("fusion"))
    assert _composites(fused) and not _composites(unfused)
    assert base.include_tags == () and base.excluding("fusion") is not base
    none = theano.function([x, y], expr * 1, mode=base.requiring("no_rewrite_has_this_tag"))
    bare = theano.function([x, y], expr * 1, mode=theano.Mode(optimizer=None))
    assert len(_ops(none)) == len(_ops(bare)) > len(_ops(fused))
    merge_only = theano.function([x], T.exp(x) + T.exp(x), mode=theano.Mode(optimizer="merge"))
    exps = [op for op in _ops(merge_only) if getattr(op, "scalar_op", None) is ps.exp]
    assert len(exps) == 1 and np.allclose(merge_only(xv), 2 * np.exp(xv))
    pushed = theano.Mode(optimizer=None).including("fusion")
    assert _composites(theano.function([x, y], expr, mode=pushed))
    for f in (fused, unfused, none, bare):
        np.testing.assert_allclose(f(xv, yv), expected, rtol=1e-12)


def test_default_mode_and_predefined_modes():
    assert theano.compile.FAST_RUN.optimizer == "fast_run"
    assert theano.FAST_COMPILE.optimizer == "fast_compile"
    with config.change_flags(mode="FAST_COMPILE", optimizer_excluding=("fusion",)):
        mode = theano.compile.get_default_mode()
        assert mode.optimizer == "fast_compile" and "fusion" in mode.exclude_tags
    custom = theano.Mode(optimizer=None)
    theano.compile.register_mode("PORT_TEST_NONE", custom)
    x = T.dscalar("x")
    f = theano.function([x], x * 1, mode="PORT_TEST_NONE")
    assert len(_ops(f)) == 1 and f(3.0) == 3.0
    with pytest.raises(ValueError, match="already registered"):
        theano.compile.register_mode("PORT_TEST_NONE", custom)


def test_linker_py_picks_the_python_backend():
    x = T.dscalar("x")
    f = theano.function([x], x + 1, mode=theano.Mode(linker="py"))
    assert f.maker.backend.name == "python" and f(1.0) == 2.0
    assert theano.Mode("python").backend == "python"  # a backend name works as the linker
    assert theano.Mode(linker="c").backend == "c" and theano.Mode(linker="cvm").backend is None
    with config.change_flags(linker="py"):
        assert theano.function([x], x + 1).maker.backend.name == "python"


# function() options -------------------------------------------------------------------------
def test_accept_inplace(rng):
    x = T.dvector("x")
    add_inplace = Elemwise(ps.add, inplace_pattern=[(0, 0)])
    out = add_inplace(x * 2, T.constant(1.0, dtype="float64"))
    with pytest.raises(TypeError, match="overwrites its input.*accept_inplace=True"):
        theano.function([x], out)
    f = theano.function([x], out, accept_inplace=True)
    xv = rng.standard_normal(3)
    keep = xv.copy()
    np.testing.assert_allclose(f(xv), keep * 2 + 1)
    np.testing.assert_array_equal(xv, keep)


def test_profile_true_collects_a_profile():
    x = T.dscalar("x")
    f = theano.function([x], x * 3, profile=True, name="tripled")
    assert f(2.0) == 6.0 and f.name == "tripled"
    assert f.profile.message == "tripled" and f.profile.fct_callcount == 1


def test_on_unused_input_follows_the_config_flag():
    x, y = T.dscalar("x"), T.dscalar("y")
    with pytest.raises(ValueError, match="input 1 \\(y\\) is not used"):
        theano.function([x, y], x * 2)
    with config.change_flags(on_unused_input="ignore"):
        f = theano.function([x, y], x * 2)
    assert f(2.0, 5.0) == 4.0
    with pytest.warns(UserWarning, match="not used"):
        theano.function([x, y], x * 2, on_unused_input="warn")


def test_rebuild_strict_lets_givens_change_types():
    x, xf = T.dvector("x"), T.fvector("xf")
    with pytest.raises(TypeError, match="givens replacement for x has the wrong type"):
        theano.function([xf], x + x, givens={x: xf})
    f = theano.function([xf], x + x, givens={x: xf}, rebuild_strict=False)
    out = f(np.float32([1.5, 2.0]))
    assert out.dtype == np.float32 and out.tolist() == [3.0, 4.0]


def test_allow_input_downcast():
    x = T.fvector("x")
    with pytest.raises(TypeError):
        theano.function([x], x * 2)(np.array([1.0, 2.0]))
    f = theano.function([x], x * 2, allow_input_downcast=True)
    assert f(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]


def test_in_borrow_lets_an_output_alias_the_argument():
    x = T.dvector("x")
    xv = np.array([1.0, 2.0])
    copied = theano.function([x], x)
    borrowed = theano.function([theano.In(x, borrow=True)], x)
    assert not np.shares_memory(copied(xv), xv)
    assert borrowed(xv) is xv
    with pytest.raises(ValueError, match="mutable=True with borrow=False"):
        theano.In(x, mutable=True, borrow=False)
    m = theano.In(x, mutable=True)
    assert m.borrow and m.mutable
    plain = theano.function([x], x + 1)
    assert plain(xv).tolist() == [2.0, 3.0] and xv.tolist() == [1.0, 2.0]
    # mutable: the in-place add may reuse the argument's buffer (Theano's meaning)
    f = theano.function([m], x + 1)
    assert f(xv).tolist() == [2.0, 3.0]
    if f.maker.backend.name in ("python", "c"):  # a device backend adds into its own copy
        assert xv.tolist() == [2.0, 3.0]


def test_in_update_keeps_state_like_a_loop():
    s, x = T.dscalar("s"), T.dscalar("x")
    f = theano.function([x, theano.In(s, value=0.0, update=s + x)], s * 10)
    total, seen = 0.0, []
    for step in [1.0, 2.0, 5.0]:
        seen.append(f(step))
        assert seen[-1] == total * 10
        total += step
    assert f(0.0, 100.0) == 1000.0  # an explicit value is used for this call
    assert f(0.0) == 1000.0  # and the update (100 + 0) became the state
    with pytest.raises(ValueError, match="needs an initial value="):
        theano.In(s, update=s + 1)


def test_implicit_input_takes_no_argument():
    x, k = T.dscalar("x"), T.dscalar("k")
    f = theano.function([theano.In(k, value=3.0, implicit=True), x], x * k)
    assert f(2.0) == 6.0
    with pytest.raises(TypeError, match="input 'k' is implicit"):
        f(2.0, k=1.0)
    with pytest.raises(ValueError, match="implicit but has no value"):
        theano.function([theano.In(k, implicit=True)], k)


def test_shared_borrow_and_get_value_options():
    with config.change_flags(backend="python"):  # borrowing aliases host memory
        _check_shared_borrow_options()


def _check_shared_borrow_options():
    arr = np.arange(3.0)
    aliased = theano.shared(arr, borrow=True)
    copied = theano.shared(arr)
    arr[0] = 7.0
    assert aliased.get_value()[0] == 7.0 and copied.get_value()[0] == 0.0
    inner = aliased.get_value(borrow=True, return_internal_type=True)
    assert inner is arr and isinstance(inner, np.ndarray)
    assert aliased.get_value(borrow=False, return_internal_type=True) is not arr
    new = np.ones(3)
    aliased.set_value(new, borrow=True)
    assert aliased.get_value(borrow=True) is new
    aliased.set_value(new)
    assert aliased.get_value(borrow=True) is not new


@pytest.mark.parametrize("action", ["warn", "raise"])
def test_warn_float64(action):
    x, y = T.dvector("x"), T.fvector("y")
    two = T.constant(2.0, dtype="float32")
    with config.change_flags(warn_float64=action):
        assert theano.function([y], y * two)(np.float32([1])).tolist() == [2.0]
        if action == "raise":
            with pytest.raises(TypeError, match=r"computes in float64: x \(TensorType\(float64"):
                theano.function([x], x + x)
        else:
            with pytest.warns(UserWarning, match="computes in float64"):
                theano.function([x], x + x)


def test_copy_with_share_memory_swap_and_name():
    s = theano.shared(np.float64(1.0), name="s")
    other = theano.shared(np.float64(50.0), name="other")
    x = T.dscalar("x")
    f = theano.function([x], s * x, updates=[(s, s + 1)], name="acc")
    for share in (True, False):
        g = f.copy(share_memory=share)
        before = s.get_value()
        assert g(2.0) == before * 2 and s.get_value() == before + 1  # same shared variable
    h = f.copy(swap={s: other}, name="swapped", profile=None)
    assert h(1.0) == 50.0 and other.get_value() == 51.0 and h.name == "swapped"
