"""The kernel of `F.cross_entropy`: the loss every language model is trained on, in one node.

For logits z (N, V) (one row of V scores per position), target ids t (N,) and label smoothing
ε, the target distribution of row n is q_n = (1 - ε) onehot(t_n) + ε / V, and its loss is

    loss_n = -Σ_v q_n,v log softmax(z_n)_v = log Σ_v exp(z_n,v) - (1 - ε) z_n,t_n - ε mean_v z_n,v

(0 for a row whose target is ignore_index). Differentiating a row: d/dz_v log Σ exp(z) is
softmax(z)_v, and the rest is linear in z, so

    dZ_n = G_n (softmax(Z_n) - q_n),   0 on ignored rows,

with G_n = G / N' for the mean over the N' kept rows, G for the sum, and each row's own G for
reduction "none". The reference builds the (N, V) log-probabilities as a node, picks the
targets with another and reduces with more; this gives the short exact gradient instead.
"""

import numpy as np

from engine import Function


class FusedCrossEntropy(Function):
    """Replaces `F.cross_entropy`'s reference: the cross-entropy of logits (..., V) against
    integer targets (...), reduced by "mean", "sum" or "none", with label smoothing."""

    rules = ("dZ = G (softmax(Z) - q), q = (1 - ε) onehot(t) + ε/V  (0 on ignored rows)",)

    def forward(self, logits, targets, ignore_index, reduction="mean", label_smoothing=0.0):
        self.shape, self.reduction, self.smoothing = logits.shape, reduction, label_smoothing
        z = logits.reshape(-1, logits.shape[-1])  # (N, V)
        t = targets.reshape(-1)
        valid = t != ignore_index
        self.rows, self.t, self.valid = np.arange(len(t)), np.where(valid, t, 0), valid
        shifted = z - z.max(axis=-1, keepdims=True)  # exp never overflows
        picked = shifted[self.rows, self.t]  # z_t - max
        mean = shifted.mean(axis=-1) if label_smoothing else 0.0  # mean_v z_v - max
        np.exp(shifted, out=shifted)
        total = shifted.sum(axis=-1, keepdims=True)
        # log Σ exp(z - max) - (1 - ε)(z_t - max) - ε (mean z - max): the max cancels out
        losses = np.log(total[:, 0]) - (1.0 - label_smoothing) * picked - label_smoothing * mean
        losses = np.where(valid, losses, 0.0)
        self.probs = shifted
        self.probs /= total  # softmax(z), kept for backward
        self.count = int(valid.sum())
        if reduction == "none":
            return losses.reshape(targets.shape).astype(logits.dtype, copy=False)
        if reduction == "mean" and self.count == 0:  # nothing to average: NaN, as in PyTorch
            return np.asarray(np.nan, dtype=logits.dtype)
        total_loss = losses.sum() / (self.count if reduction == "mean" else 1)
        return np.asarray(total_loss, dtype=logits.dtype)

    def backward(self, g):
        if self.reduction == "none":
            scale = g.reshape(-1, 1)  # each row's own G, (N, 1)
        elif self.reduction == "sum":
            scale = float(g)
        else:
            scale = float(g) / self.count if self.count else 0.0
        dz = self.probs * scale
        row_scale = scale[:, 0] if self.reduction == "none" else scale
        dz[self.rows, self.t] -= (1.0 - self.smoothing) * row_scale
        if self.smoothing:
            dz -= (self.smoothing / dz.shape[-1]) * scale
        dz[~self.valid] = 0.0
        return (dz.reshape(self.shape),)
