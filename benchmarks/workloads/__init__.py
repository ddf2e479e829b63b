"""The registered workloads, in the order the table shows them.

A workload is a module with `NAME`, `DESCRIPTION` and `run(ctx) -> list[Measurement]`; adding
one (an MLP, an RNN, rewrite-phase timing) is a new module here and one entry in `WORKLOADS`.
"""

from workloads import call_overhead, import_time, logistic_step, rewrite_phase, rnn

WORKLOADS = [import_time, call_overhead, logistic_step, rewrite_phase, rnn]
