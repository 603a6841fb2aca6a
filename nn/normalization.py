"""The normalisations' math, written once from engine primitives: `layer_norm`, `rms_norm`,
`batch_norm` (`nn.functional` holds them too, as `F.layer_norm`, ...; PyTorch's names).

Each takes numbers to mean 0 and variance 1 (rms_norm: to root mean square 1), then scales and
shifts them by learned weights. They differ in which numbers share a mean:
  - layer_norm and rms_norm: the C channels of one position (..., C), each position alone;
    what transformers use, since it needs no batch;
  - batch_norm: one channel over the whole batch (N, C) or (N, C, L), each channel alone;
    what makemore's MLP and convolutional nets use. The batch's statistics exist only while
    training, so it keeps running averages of them for evaluation.
As in `nn.functional`, a kernel (nn/kernels/norms.py) replaces layer_norm's and rms_norm's
body unless `nn.use_fused(False)`; batch_norm has none.
"""

import numpy as np

import engine
from nn import checks, kernels


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """x (..., C) -> (..., C), weight and bias (C,):   y = (x - mean) / √(var + eps) · w + b.

    Mean and (biased) variance are over each row of C numbers: every position is normalised on
    its own, to mean 0 and variance 1, then scaled and shifted by learned weights.
    """
    checks.norm_shape("layer_norm", x, normalized_shape, weight, bias)
    if kernels.enabled():
        return kernels.FusedLayerNorm.apply(x, weight, bias, eps=eps)
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    y = centred / (variance + eps).sqrt()
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x (..., C) -> (..., C), weight (C,):   y = x / √(mean(x²) + eps) · w.

    LayerNorm without the centring (and without a bias): each row is divided by its root mean
    square, which is cheaper and, in Llama and its kin, works as well. eps None is x's dtype's
    machine epsilon, as in PyTorch.
    """
    checks.norm_shape("rms_norm", x, normalized_shape, weight)
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    if kernels.enabled():
        return kernels.FusedRMSNorm.apply(x, weight, eps=eps)
    y = x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt()
    return y if weight is None else y * weight


def batch_norm(
    x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """x (N, C) or (N, C, L) -> the same shape; running_mean, running_var, weight, bias (C,):

        y = (x - mean) / √(var + eps) · w + b,   mean and var per channel c, over N (and L)

    With `training`, mean and var are the batch's (var biased: divided by n = N·L), and the
    running statistics, where given, are updated in place (no gradient flows into them):
        running_mean ← (1 - momentum) running_mean + momentum · mean
        running_var  ← (1 - momentum) running_var  + momentum · var · n / (n - 1)
    (the running variance from the unbiased variance, as PyTorch). Without `training` the
    running statistics are the mean and var, so a single example gets the same output in a
    batch or alone: what evaluation needs. momentum is a number, always (PyTorch's too):
    nn.BatchNorm1d's momentum=None, the plain mean of all batches, is 1/k at the k-th batch,
    which only the layer's num_batches_tracked knows.
    """
    if not isinstance(momentum, int | float | np.number) or isinstance(momentum, bool):
        raise TypeError(
            f"batch_norm: momentum must be a number, got {momentum!r} (for the plain mean of "
            f"all batches, as BatchNorm1d(momentum=None), pass 1/k at the k-th batch)"
        )
    c = checks.batch_norm_channels(x, running_mean, running_var, weight, bias, training)
    axes = (0, *range(2, x.ndim))  # every axis but the channels'
    channel = (1, c) + (1,) * (x.ndim - 2)  # (C,) -> (1, C) or (1, C, 1), to broadcast over x
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=axes, keepdims=True)
        if running_mean is not None:
            n = x.size // c  # the numbers each channel's statistics are taken over
            with engine.no_grad():  # running statistics are state, not part of the graph
                running_mean.mul_(1 - momentum).add_(mean.reshape(c), alpha=momentum)
                unbiased = variance.reshape(c) * (n / (n - 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    else:
        centred = x - running_mean.reshape(channel)
        variance = running_var.reshape(channel)
    y = centred / (variance + eps).sqrt()
    y = y if weight is None else y * weight.reshape(channel)
    return y if bias is None else y + bias.reshape(channel)
