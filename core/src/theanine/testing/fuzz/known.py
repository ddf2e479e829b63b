"""Known defects the generator (and the checks) can be told to avoid (`excluded=`), for a
green CI while their fixes are pending (all are fixed now).  Each
entry names what the fuzzer then stops building or checking; take it out of `CI_EXCLUDED` as
soon as its fix lands, so the fuzzer guards it again.
"""

from __future__ import annotations

#: defects of the project's issue list that the fuzzer can reach (7, MemoryError re-raised
#: as RuntimeError, and 8, pickling, are outside what a differential fuzzer runs)
KNOWN_DEFECTS: dict[str, str] = {
    "inplace_broadcast": "1: an in-place Elemwise skips the broadcast check (the generator "
                         "then never feeds a size-1 value to a non-broadcastable dimension)",
    "final_merge_destroyed": "2: final_merge merges nodes whose output is destroyed in place "
                             "(the generator then never uses one value twice as an argument)",
    "adv_index_transposed": "3: x[:, [1,2], ..., [0,3]] comes back transposed (then: at most "
                            "one integer-array index, no scalar index beside it)",
    "matmul_empty_batch": "4: matmul of (0,2,3) by (3,4) raises (then: no matmul with an "
                          "empty batch dimension)",
    "grad_set_subtensor_repeated": "5: the gradient of set_subtensor(x[[0,0]], y) w.r.t. y "
                                   "(then: set_subtensor with distinct indices only)",
    "sub_self_nan": "6: x - x becomes 0 even for NaN/Inf (then: an elementwise op never gets "
                    "the same variable twice)",
    "bool_float_dtype": "9: sigmoid/softplus of bool give float64, bool ** 2 int64 (then: "
                        "those ops never see bool inputs)",
    "numpy_scalar_left": "10: a NumPy scalar on the left of an operator",
}

#: mismatches found by the fuzzer that are not in the project's defect list (see
#: docs/testing.md); each names what the generator then avoids
FOUND_DEFECTS: dict[str, str] = {
    "tri_gamma_grad": "the gradient through tri_gamma is silently 0 (its scalar op declares no "
                      "gradient, which `grad` reads as 'no gradient flows'; polygamma(2, x) "
                      "is the derivative); then: no tri_gamma",
    "adv_index_broadcast": "backend c: x[[0, 2], [1]] (integer-array indices whose lengths "
                           "broadcast) raises IndexError 'index vectors of lengths [2, 1] do "
                           "not broadcast'; then: index arrays of equal lengths only",
    "rop_broadcastable": "(fixed: fill keeps its model's broadcastable pattern) Rop of an "
                         "output with a broadcastable dimension raised TypeError when its "
                         "gradient reads the output gradient for its shape "
                         "(T.zeros_like drops the broadcastable pattern, so the placeholder "
                         "cannot be replaced): x = T.dmatrix('x'); theano.gradient.Rop("
                         "T.var(x, axis=1, keepdims=True), x, np.ones((1, 1))) raises "
                         "'cannot replace input rop_placeholder of type TensorType(float64, "
                         "col) with Alloc.0 of type TensorType(float64, matrix)' (then: no "
                         "forward-mode check of such outputs)",
}

#: what the CI test excludes: the defects above whose fix is pending (each other entry stays a
#: switch the generator and the checks honour, for `--exclude-known` and the next defect)
CI_EXCLUDED: frozenset[str] = frozenset()
