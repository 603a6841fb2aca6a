"""The layers a GPT is built from, as Modules holding their parameters (PyTorch's names).

Each layer creates float32 parameters, initialised from the shared generator as PyTorch does
by default (GPT models usually re-initialise them: see `nn.init`), checks its settings when it
is built, and calls one function of `nn.functional`, which checks the input and holds the math.
An error raised there is prefixed with the layer's description (`Module.__call__`).
"""

import math

import numpy as np

import engine
from nn import checks, init
from nn import functional as F
from nn.module import Module, Parameter


def _empty(*shape):
    return Parameter(np.empty(shape, dtype=np.float32))


class Linear(Module):
    """y = x Wᵀ + b: (..., in_features) -> (..., out_features).

    weight (out_features, in_features) and bias (out_features,) start uniform in ±1/√in_features.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = init.uniform_(_empty(out_features, in_features), -bound, bound)
        self.bias = init.uniform_(_empty(out_features), -bound, bound) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        no_bias = ", bias=False" if self.bias is None else ""
        return f"{self.in_features} -> {self.out_features}{no_bias}"


class Embedding(Module):
    """A lookup table: integer ids (...) -> rows of weight (..., embedding_dim).

    weight (num_embeddings, embedding_dim) starts as N(0, 1) draws. The row of `padding_idx`
    (as in PyTorch: the id of padding) starts at 0 and gets no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = init.normal_(_empty(num_embeddings, embedding_dim))
        self.padding_idx = None
        if padding_idx is not None:
            self.padding_idx = checks.padding_index(padding_idx, num_embeddings)
            self.weight.data[self.padding_idx] = 0

    def forward(self, ids):
        return F.embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class LayerNorm(Module):
    """Normalise the last axis (..., C) to mean 0 and variance 1, then scale and shift.

    weight (C,) starts at 1, bias (C,) at 0. As in PyTorch, bias=False leaves the bias out,
    and elementwise_affine=False both: the output is the normalised input itself.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape = (_dim(normalized_shape, "LayerNorm"),)  # a tuple, as in PyTorch
        self.eps, self.elementwise_affine = eps, elementwise_affine
        affine, with_bias = elementwise_affine, elementwise_affine and bias
        self.weight = init.ones_(_empty(*self.normalized_shape)) if affine else None
        self.bias = init.zeros_(_empty(*self.normalized_shape)) if with_bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        (size,) = self.normalized_shape
        if not self.elementwise_affine:
            return f"{size}, eps={self.eps}, elementwise_affine=False"
        no_bias = ", bias=False" if self.bias is None else ""
        return f"{size}, eps={self.eps}{no_bias}"


class BatchNorm1d(Module):
    """Normalise each channel of (N, C) or (N, C, L) over the batch, then scale and shift.

    weight (C,) starts at 1 and bias (C,) at 0 (affine=False leaves both out, bias=False the
    bias: PyTorch's options). While training, each batch is normalised with its own statistics
    and the buffers running_mean (C,) (init 0) and running_var (C,) (init 1) follow them as
    exponential averages (`F.batch_norm`); momentum None makes them plain means of every batch
    so far. num_batches_tracked (0-d int64, as PyTorch's) counts the batches. In eval mode the
    running statistics are used. All three are saved in `state_dict()`. With
    track_running_stats=False there are none, and the batch's statistics are used always.
    """

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        *,
        bias=True,
    ):
        super().__init__()
        self.num_features = _dim(num_features, "BatchNorm1d")
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        c = self.num_features
        self.weight = init.ones_(_empty(c)) if affine else None
        self.bias = init.zeros_(_empty(c)) if affine and bias else None
        tracked = track_running_stats
        self.register_buffer("running_mean", engine.zeros(c) if tracked else None)
        self.register_buffer("running_var", engine.ones(c) if tracked else None)
        self.register_buffer("num_batches_tracked", engine.tensor(0) if tracked else None)

    def forward(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"expected input (N, C) or (N, C, L), got shape {x.shape}")
        momentum = self.momentum  # used only to update running statistics
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if momentum is None:  # the k-th batch weighs 1/k: the mean of all k batches
                momentum = 1.0 / int(self.num_batches_tracked)
        elif momentum is None:  # nothing to update: any number does
            momentum = 0.0
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self):
        options = f"eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        options += f", bias={self.bias is not None}"  # as PyTorch: False with affine=False too
        return f"{self.num_features}, {options}, track_running_stats={self.track_running_stats}"


class RMSNorm(Module):
    """Divide the last axis (..., C) by its root mean square, then scale by weight (C,) (init 1).
    eps None is the input's machine epsilon, as in PyTorch."""

    def __init__(self, dim, eps=None):
        super().__init__()
        self.dim, self.eps = _dim(dim, "RMSNorm"), eps
        self.weight = init.ones_(_empty(self.dim))

    def forward(self, x):
        return F.rms_norm(x, self.dim, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.dim}, eps={self.eps}"


class Dropout(Module):
    """Inverted dropout with probability p while training; the identity after `.eval()`."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


def _dim(size, layer):
    """A normalised size given as C or (C,), as an int."""
    if isinstance(size, tuple | list) and len(size) == 1:
        size = size[0]
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"{layer} normalises one axis: give its size C, got {size!r}")
    return size
