"""The kernel of `F.cross_entropy`: the loss every language model is trained on, in one node.

For logits z (N, V) (one row of V scores per position) and target ids t (N,):

    loss = mean over the N' positions with t_n != ignore_index of  -log softmax(z_n)[t_n]
         = mean of  log Σ_v exp(z_n,v) - z_n,t_n

Differentiating a row: d/dz_v (log Σ exp(z) - z_t) = softmax(z)_v - [v == t], so

    dZ = G (softmax(Z) - onehot(t)) / N',   0 on ignored rows.

The reference builds the (N, V) log-probabilities as a node, picks the targets with another
and averages with a third; this gives the short exact gradient instead of the chain through
log_softmax and the indexing.
"""

import numpy as np

from engine import Function


class FusedCrossEntropy(Function):
    """Replaces `F.cross_entropy`'s reference: the mean cross-entropy of logits (..., V)
    against integer targets (...)."""

    rules = ("dZ = G (softmax(Z) - onehot(t)) / N'  (0 on ignored rows)",)

    def forward(self, logits, targets, ignore_index):
        self.shape = logits.shape
        z = logits.reshape(-1, logits.shape[-1])  # (N, V)
        t = targets.reshape(-1)
        valid = t != ignore_index
        self.rows, self.t, self.valid = np.arange(len(t)), np.where(valid, t, 0), valid
        shifted = z - z.max(axis=-1, keepdims=True)  # exp never overflows
        picked = shifted[self.rows, self.t]  # z_t - max
        np.exp(shifted, out=shifted)
        total = shifted.sum(axis=-1, keepdims=True)
        losses = np.log(total[:, 0]) - picked  # log Σ exp(z - max) - (z_t - max)
        self.probs = shifted
        self.probs /= total  # softmax(z), kept for backward
        self.count = int(valid.sum())
        if self.count == 0:  # nothing to average: NaN, as in PyTorch
            return np.asarray(np.nan, dtype=logits.dtype)
        return np.asarray(losses[valid].sum() / self.count, dtype=logits.dtype)

    def backward(self, g):
        scale = float(g) / self.count if self.count else 0.0
        dz = self.probs * scale
        dz[self.rows, self.t] -= scale
        dz[~self.valid] = 0.0
        return (dz.reshape(self.shape),)
