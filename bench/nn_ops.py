"""Micro-benchmark of each fused kernel against the reference math it replaces.

Sizes are those of the small training GPT: B=12 sequences of T=64 tokens, C=128 channels,
4 heads of 32, a 65-character vocabulary. Each line is the best of several forward+backward
runs, in milliseconds, with the kernel (`nn.use_fused(True)`) and without.
(The embedding's scatter-add is compared in bench/engine_ops.py.)

    python -m bench.nn_ops
"""

import time

import numpy as np

import nn
import nn.functional as F
from engine import Tensor

B, T, C, NH, V = 12, 64, 128, 4, 65
rng = np.random.default_rng(0)


def param(*shape):
    return Tensor(rng.standard_normal(shape, dtype=np.float32) * 0.1, requires_grad=True)


def best_ms(fn, repeat=30):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def fwd_bwd(make, fused):
    def run():
        with nn.use_fused(fused):
            out = make()
        out.backward(np.ones(out.shape, dtype=out.dtype))

    return run


def main():
    x, w, bias = param(B, T, C), param(3 * C, C), param(3 * C)
    gamma, beta = param(C), param(C)
    h = param(B, T, 4 * C)
    logits, targets = param(B, T, V), rng.integers(0, V, (B, T))
    heads = param(B, 3 * NH, T, C // NH)  # q | k | v, as a GPT splits its projection
    q, k, v = param(B, NH, T, C // NH), param(B, NH, T, C // NH), param(B, NH, T, C // NH)
    cases = [
        ("linear 128->384", lambda: F.linear(x, w, bias)),
        ("layer_norm", lambda: F.layer_norm(x, C, gamma, beta)),
        ("rms_norm", lambda: F.rms_norm(x, C, gamma)),
        ("gelu (tanh) 512", lambda: F.gelu(h, "tanh")),
        ("gelu (erf) 512", lambda: F.gelu(h, "none")),
        ("cross_entropy", lambda: F.cross_entropy(logits, targets)),
        ("attention causal", lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        (
            "attention, packed",
            lambda: F.scaled_dot_product_attention(
                heads[:, :NH], heads[:, NH : 2 * NH], heads[:, 2 * NH :], is_causal=True
            ),
        ),
    ]
    print(f"forward+backward, ms (B={B}, T={T}, C={C}, nh={NH}, V={V}, float32)")
    print(f"{'op':<20}{'fused':>10}{'reference':>11}")
    for name, make in cases:
        print(
            f"{name:<20}{best_ms(fwd_bwd(make, True)):10.3f}{best_ms(fwd_bwd(make, False)):11.3f}"
        )


if __name__ == "__main__":
    main()
