"""Micro-benchmark of the fused nn ops against the same maths composed from engine primitives.

Sizes are those of the small training GPT: B=12 sequences of T=64 tokens, C=128 channels,
4 heads of 32, a 65-character vocabulary. Each line is the best of several forward+backward
runs, in milliseconds.
(The embedding's scatter-add is compared in bench/engine_ops.py.)

    python -m bench.nn_ops
"""

import time

import numpy as np

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


def fwd_bwd(make):
    def run():
        out = make()
        out.backward(np.ones(out.shape, dtype=out.dtype))

    return run


def composed_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / (var + eps).sqrt() * w + b


def composed_cross_entropy(logits, targets):
    logp = logits.reshape(-1, V).log_softmax(axis=-1)
    return -logp[np.arange(B * T), targets.reshape(-1)].mean()


def composed_attention(q, k, v):
    att = (q @ k.transpose(-1, -2)) * (1.0 / np.sqrt(q.shape[-1]))
    att = att.masked_fill(np.triu(np.ones((T, T), bool), k=1), -np.inf)
    return att.softmax(axis=-1) @ v


def main():
    x, w, bias = param(B, T, C), param(3 * C, C), param(3 * C)
    gamma, beta = param(C), param(C)
    h = param(B, T, 4 * C)
    logits, targets = param(B, T, V), rng.integers(0, V, (B, T))
    q, k, v = param(B, NH, T, C // NH), param(B, NH, T, C // NH), param(B, NH, T, C // NH)
    cases = [
        ("linear 128->384", lambda: F.linear(x, w, bias), lambda: x @ w.T + bias),
        (
            "layer_norm",
            lambda: F.layer_norm(x, C, gamma, beta),
            lambda: composed_layer_norm(x, gamma, beta),
        ),
        ("gelu (tanh) 512", lambda: F.gelu(h), lambda: h.gelu()),
        ("gelu (erf) 512", lambda: F.gelu(h, "none"), None),
        (
            "cross_entropy",
            lambda: F.cross_entropy(logits, targets),
            lambda: composed_cross_entropy(logits, targets),
        ),
        (
            "attention causal",
            lambda: F.scaled_dot_product_attention(q, k, v),
            lambda: composed_attention(q, k, v),
        ),
    ]
    print(f"forward+backward, ms (B={B}, T={T}, C={C}, nh={NH}, V={V}, float32)")
    print(f"{'op':<20}{'fused':>10}{'composed':>10}")
    for name, fused, composed in cases:
        fused_ms = best_ms(fwd_bwd(fused))
        composed_ms = f"{best_ms(fwd_bwd(composed)):10.3f}" if composed else f"{'-':>10}"
        print(f"{name:<20}{fused_ms:10.3f}{composed_ms}")


if __name__ == "__main__":
    main()
