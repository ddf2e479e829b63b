"""Neural-network functions (`T.nnet`), Theano's module path: activations, softmax and
cross-entropies (`basic`, `sigm`, `xent`), the hierarchical softmax (`hsoftmax`) and batch
normalization (`bn`, also `T.nnet.bn.batch_normalization`)."""

from theanine.tensor.nnet import abstract_conv, bn, conv, neighbours
from theanine.tensor.nnet.abstract_conv import conv2d, conv3d
from theanine.tensor.nnet.basic import (
    LogSoftmax,
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
from theanine.tensor.nnet.bn import batch_normalization
from theanine.tensor.nnet.hsoftmax import h_softmax
from theanine.tensor.nnet.neighbours import images2neibs, neibs2images
from theanine.tensor.nnet.sigm import selu, softsign, ultra_fast_sigmoid
from theanine.tensor.nnet.xent import (
    crossentropy_categorical_1hot,
    crossentropy_softmax_1hot,
    crossentropy_softmax_1hot_with_bias,
    crossentropy_softmax_argmax_1hot_with_bias,
    softmax_with_bias,
)

__all__ = [
    "abstract_conv",
    "batch_normalization",
    "binary_crossentropy",
    "bn",
    "categorical_crossentropy",
    "conv",
    "conv2d",
    "conv3d",
    "crossentropy_categorical_1hot",
    "crossentropy_softmax_1hot",
    "crossentropy_softmax_1hot_with_bias",
    "crossentropy_softmax_argmax_1hot_with_bias",
    "elu",
    "h_softmax",
    "hard_sigmoid",
    "images2neibs",
    "log_softmax",
    "LogSoftmax",
    "logsoftmax",
    "neibs2images",
    "neighbours",
    "relu",
    "selu",
    "sigmoid",
    "sigmoid_binary_crossentropy",
    "Softmax",
    "softmax",
    "softmax_with_bias",
    "SoftmaxGrad",
    "softplus",
    "softsign",
    "ultra_fast_sigmoid",
]
