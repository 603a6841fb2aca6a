"""The fused kernels: faster replacements for pieces of the math in `nn.functional`.

Every function in `nn.functional` is written once, plainly, from engine primitives: that is
the reference, what a reader reads and what a graph shows. A kernel here computes the same
thing as one engine `Function` with a hand-derived backward: fewer graph nodes, fewer
temporaries, and matmuls laid out for BLAS. Two more are not nodes: `run_updates` shares an
optimizer's per-parameter updates over the cores, and `attend_one_query` is attention for a
single query where no graph is built (sampling with a KV cache). Each names the reference it
replaces, and the tests hold the two equal, values and gradients.

One switch chooses between them. Fused is the default:

    with nn.use_fused(False):      # every nn.functional op runs its reference composition
        logits, loss = model(idx, targets)

An optimizer's `step()` inside runs its updates one after another. `use_fused` also works as
a decorator, like `engine.no_grad()` (of a generator function too:
each of its steps runs in that mode).
"""

from engine.modes import ContextDecorator
from nn.kernels.attention import FusedAttention
from nn.kernels.cross_entropy import FusedCrossEntropy
from nn.kernels.gelu import FusedGELU
from nn.kernels.linear import FusedLinear
from nn.kernels.norms import FusedLayerNorm, FusedRMSNorm
from nn.kernels.one_query_attention import attend_one_query
from nn.kernels.packed_attention import FusedPackedAttention, attend
from nn.kernels.swiglu import FusedSwiGLU
from nn.kernels.threads import run_updates

_fused = True


def enabled():
    """True when `nn.functional` runs the kernels (the default), False for the reference."""
    return _fused


class use_fused(ContextDecorator):
    """`with nn.use_fused(False):` runs the reference math of every `nn.functional` op inside;
    `use_fused(True)` the kernels. One decorator instance may serve many (nested) calls, so the
    states to restore are kept on a stack."""

    def __init__(self, enabled=True):
        self.enabled = bool(enabled)
        self._previous = []

    def __enter__(self):
        global _fused
        self._previous.append(_fused)
        _fused = self.enabled

    def __exit__(self, *exc):
        global _fused
        _fused = self._previous.pop()


__all__ = [
    "FusedAttention",
    "FusedCrossEntropy",
    "FusedGELU",
    "FusedLayerNorm",
    "FusedLinear",
    "FusedPackedAttention",
    "FusedRMSNorm",
    "FusedSwiGLU",
    "attend",
    "attend_one_query",
    "enabled",
    "run_updates",
    "use_fused",
]
