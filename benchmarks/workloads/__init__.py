"""The registered workloads, in the order the table shows them.

A workload is a module with `NAME`, `DESCRIPTION` and `run(ctx) -> list[Measurement]`; adding
one (an MLP, an RNN, rewrite-phase timing) is a new module here and one entry in `WORKLOADS`.
"""

from workloads import (
    call_overhead,
    compile_time,
    conv_forward,
    data_parallel,
    fastmath,
    import_time,
    lenet_step,
    logistic_step,
    mlp_step,
    pow_fused,
    rewrite_phase,
    rnn,
    sigmoid_large,
)

WORKLOADS = [import_time, call_overhead, logistic_step, rewrite_phase, rnn, sigmoid_large,
             pow_fused, mlp_step, data_parallel, lenet_step, conv_forward, compile_time, fastmath]
