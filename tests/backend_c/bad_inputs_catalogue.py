"""Bad inputs to functions compiled on backend c, run as a script (by test_bad_inputs_c.py,
in a subprocess, so that a crash of native code fails that test instead of the test run).

Each case prints `OK <name>` when the call raised the expected Python exception type with a
message naming the user's variable (or, for valid inputs, gave NumPy's answer), and
`FAIL <name>: ...` otherwise.  The script exits 0 when it reached the end.
"""

from __future__ import annotations

import sys
import traceback

import numpy as np

import theanine
import theanine.graph.basic
import theanine.graph.op
import theanine.tensor as T

CASES = []


def case(name, error, *needles):
    def register(fn):
        CASES.append((name, fn, error, needles))
        return fn
    return register


def c(inputs, outputs):
    return theanine.function(inputs, outputs, backend="c")


x, y = T.dvector("xvec"), T.dvector("yvec")
m, n = T.dmatrix("mat"), T.dmatrix("nat")
row = T.drow("arow")
i = T.lscalar("idx")
iv = T.lvector("ivec")
z = T.dmatrix("zmat")


@case("elemwise length mismatch", ValueError, "xvec", "yvec")
def _():
    c([x, y], x * y + 1)(np.zeros(3), np.zeros(4))


@case("fused node shape mismatch", ValueError, "xvec", "yvec")
def _():
    c([x, y], T.exp(x) * T.tanh(y) - x)(np.zeros(5), np.zeros(2))


@case("non-broadcastable dimension of length 1", ValueError, "mat", "broadcastable")
def _():
    c([m, n], m + n)(np.zeros((3, 1)), np.zeros((3, 4)))


@case("row given two rows", TypeError, "arow")
def _():
    c([m, row], m + row)(np.zeros((2, 3)), np.zeros((2, 3)))


@case("wrong rank", TypeError, "xvec")
def _():
    c([x], T.exp(x))(np.zeros((2, 2)))


@case("wrong dtype (unsafe cast)", TypeError, "ivec")
def _():
    c([iv], iv * 2)(np.array([1.5, 2.5]))


@case("strings", TypeError, "xvec")
def _():
    c([x], x + 1)(np.array(["a", "b"]))


@case("index out of bounds", IndexError, "xvec")
def _():
    c([x, i], x[i] * 2)(np.zeros(3), 10)


@case("negative index out of bounds", IndexError, "xvec")
def _():
    c([x, i], x[i] * 2)(np.zeros(3), -4)


@case("advanced index out of bounds", IndexError, "xvec")
def _():
    c([x, iv], x[iv] + 1)(np.zeros(3), np.array([0, 7]))


@case("dot not aligned", ValueError, "mat", "nat")
def _():
    c([m, n], T.dot(m, n))(np.zeros((3, 4)), np.zeros((5, 2)))


@case("dot wrong rank", TypeError, "mat")
def _():
    c([m, n], T.dot(m, n))(np.zeros(4), np.zeros((4, 2)))


@case("gemm z of the wrong shape", ValueError, "zmat")
def _():
    f = c([m, n, z], T.dot(m, n) + z)
    f(np.zeros((3, 4)), np.zeros((4, 2)), np.zeros((3, 3)))


@case("gemm operands not aligned", ValueError, "mat", "nat")
def _():
    f = c([m, n, z], T.dot(m, n) + z)
    f(np.zeros((3, 4)), np.zeros((5, 2)), np.zeros((3, 2)))


@case("reshape to a size that does not fit", ValueError, "xvec")
def _():
    c([x, i], T.exp(x.reshape((i, 2))))(np.zeros(6), 4)


@case("max of an empty axis", ValueError, "empty")
def _():
    c([m], T.max(m, axis=0))(np.zeros((0, 3)))


@case("inplace node with a mismatched operand", ValueError, "xvec")
def _():
    c([m, n, x], T.exp(T.dot(m, n)) + x)(np.ones((2, 3)), np.ones((3, 4)), np.ones(5))


@case("huge broadcast result", (ValueError, MemoryError), "")
def _():
    big = np.broadcast_to(np.zeros((1, 1)), (2**31, 2**31))
    c([m], m * 2)(big)


@case("huge result of a reduction over a broadcast view", None)
def _():
    big = np.broadcast_to(np.ones((1, 1)), (2**20, 2**12))
    assert c([m], T.sum(m))(big) == 2**32


@case("read-only, reversed and strided inputs work", None)
def _():
    a = np.arange(12.0).reshape(3, 4)[::-1, ::2]
    a.flags.writeable = False
    b = np.arange(6.0).reshape(3, 2)
    got = c([m, n], T.exp(m) * n + T.sum(m))(a, b)
    assert np.allclose(got, np.exp(a) * b + a.sum())


@case("empty arrays work", None)
def _():
    got = c([m, n], T.dot(m, n) + 1)(np.zeros((0, 3)), np.zeros((3, 0)))
    assert got.shape == (0, 0)


@case("integer division by zero and -1 give NumPy's values", None)
def _():
    a = np.array([7, -7, np.iinfo(np.int64).min, 5])
    b = np.array([0, 0, -1, -1])
    d = T.lvector("d")
    q, r = c([iv, d], [iv // d, iv % d])(a, b)
    with np.errstate(all="ignore"):
        assert np.array_equal(q, a // b) and np.array_equal(r, a % b)


class _WrongRank(theanine.graph.op.Op):
    """An Op of the user's whose perform returns a matrix where its node declares a vector."""

    __props__ = ()

    def make_node(self, v):
        v = T.as_tensor_variable(v)
        return theanine.graph.basic.Apply(self, [v], [T.dvector("wrongrank")])

    def perform(self, node, inputs, out):
        out[0][0] = np.outer(inputs[0], inputs[0])


@case("a host Op's output of the wrong rank reaches a native sum", ValueError, "wrongrank",
      "1 dimension")
def _():
    c([x], T.sum(_WrongRank()(x), axis=0))(np.arange(3.0))


@case("... a native argmax", ValueError, "wrongrank", "1 dimension")
def _():
    c([x], T.argmax(_WrongRank()(x)))(np.arange(3.0))


@case("... a native cumsum", ValueError, "wrongrank", "1 dimension")
def _():
    c([x], T.cumsum(_WrongRank()(x)))(np.arange(3.0))


def main() -> int:
    for name, fn, error, needles in CASES:
        try:
            fn()
        except BaseException as exc:  # noqa: B036 - report anything, keep going
            if error is None or not isinstance(exc, error):
                print(f"FAIL {name}: unexpected {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stdout)
                continue
            missing = [s for s in needles if s not in str(exc)]
            if missing:
                print(f"FAIL {name}: {type(exc).__name__} does not mention {missing}: {exc}")
                continue
            print(f"OK {name}")
            continue
        print(f"OK {name}" if error is None else f"FAIL {name}: no {error} raised")
    print("END")
    return 0


if __name__ == "__main__":
    sys.exit(main())
