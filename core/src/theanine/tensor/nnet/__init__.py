"""Neural-network functions (`T.nnet`), Theano's module path: activations, softmax and
cross-entropies (`basic`)."""

from theanine.tensor.nnet.basic import (
    Softmax,
    SoftmaxGrad,
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    hard_sigmoid,
    log_softmax,
    logsoftmax,
    relu,
    sigmoid,
    sigmoid_binary_crossentropy,
    softmax,
    softplus,
)

__all__ = [
    "Softmax",
    "SoftmaxGrad",
    "binary_crossentropy",
    "categorical_crossentropy",
    "elu",
    "hard_sigmoid",
    "log_softmax",
    "logsoftmax",
    "relu",
    "sigmoid",
    "sigmoid_binary_crossentropy",
    "softmax",
    "softplus",
]
