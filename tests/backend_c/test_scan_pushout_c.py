"""On the C backend `fast_run` moves a scan's input projection out of the loop
(`scan_pushout_seqs`, listed in the backend's `fast_run_tags`): one product before the loop,
with the same values as the loop as written."""

from __future__ import annotations

import numpy as np
from c_checks import require_c

import theanine as th
import theanine.tensor as T
from theanine.compile.mode import Mode
from theanine.scan_module.op import Scan
from theanine.tensor.blas import Gemm
from theanine.tensor.math import Dot

require_c()


def _rnn():
    x, h0, w_xh, w_hh = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("w_xh"), T.dmatrix("w_hh")
    b = T.dvector("b")
    h, _ = th.scan(lambda x_t, h, w_xh, w_hh, b: T.tanh(T.dot(x_t, w_xh) + T.dot(h, w_hh) + b),
                   sequences=[x], outputs_info=[h0], non_sequences=[w_xh, w_hh, b])
    cost = h[-1].sum()
    return [x, h0, w_xh, w_hh, b], [h, th.grad(cost, w_hh), th.grad(cost, x)]


def test_fast_run_on_c_pushes_the_input_projection_out_of_the_loop():
    inputs, outs = _rnn()
    f = th.function(inputs, outs, mode=Mode(optimizer="fast_run", backend="c"))
    assert "scan_pushout_seqs" in th.explain(f)
    forward = next(n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan))
    assert len([n for n in forward.op.inner.apply_nodes if isinstance(n.op, Dot | Gemm)]) == 1
    for optimizer in ("fast_compile", None):
        g = th.function(inputs, outs, mode=Mode(optimizer=optimizer, backend="c"))
        assert "scan_pushout_seqs" not in th.explain(g)
    reference = th.function(inputs, outs, mode=Mode(optimizer=None, backend="python"))
    rng = np.random.default_rng(5)
    args = [rng.normal(size=(7, 3, 4)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5)) * 0.5,
            rng.normal(size=(5, 5)) * 0.5, rng.normal(size=5)]
    for _ in range(3):  # the product's buffer is reused from the second call on
        for got, want in zip(f(*args), reference(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
