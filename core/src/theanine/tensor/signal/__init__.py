"""Signal processing on tensors, Theano's module path: pooling (`pool`, and the older
`downsample`).  Import the submodules: `from theanine.tensor.signal import pool`."""
