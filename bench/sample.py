"""Sampling speed: the KV cache against re-running the context, and against PyTorch.

    python -m bench.sample

A baby-GPT-shaped model (4 layers, 128 wide) with block_size 256 and random weights writes
255 tokens after a 1-token prompt, at batch 1: with our KV cache, with our plain sampler (every
step re-runs the whole context), and, when PyTorch is importable (never a dependency), with
nanoGPT's uncached sampler in PyTorch on the very same weights, in a process of its own.
Each is the best of three runs; ours alternate, cached and plain, so both see the same machine.
"""

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import safetensors.numpy

SHAPE = dict(vocab_size=65, block_size=256, n_layer=4, n_head=4, n_embd=128, bias=False)
NEW_TOKENS = 255


def best_seconds(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def torch_sampler_seconds(weights_path):
    """nanoGPT's `generate` (no cache: the whole context each step), in PyTorch."""
    import torch

    from bench.torch_gpt import TorchGPT, load_tinyllm_weights

    torch.set_grad_enabled(False)
    model = TorchGPT(SHAPE).eval()
    load_tinyllm_weights(model, safetensors.numpy.load_file(weights_path))
    generator = torch.Generator().manual_seed(0)

    def sample():
        idx = torch.zeros((1, 1), dtype=torch.long)
        for _ in range(NEW_TOKENS):
            logits = model.logits(idx[:, -SHAPE["block_size"] :])[:, -1, :]
            probs = torch.softmax(logits, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)

    sample()  # warm up
    return best_seconds(sample)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":  # the PyTorch side, in its own process
        print(torch_sampler_seconds(sys.argv[2]))
        return
    import engine
    from model.gpt import GPT, GPTConfig

    engine.manual_seed(0)
    model = GPT(GPTConfig(**SHAPE)).eval()
    prompt = np.zeros((1, 1), dtype=np.int64)
    model.generate(prompt, 8, seed=0)  # warm up
    seconds = {"tinyllm, KV cache": float("inf"), "tinyllm, no cache": float("inf")}
    for _ in range(3):  # interleaved, so that both see the same machine
        for label, cache in (("KV cache", True), ("no cache", False)):
            run = best_seconds(
                lambda cache=cache: model.generate(prompt, NEW_TOKENS, seed=0, use_cache=cache),
                repeats=1,
            )
            seconds[f"tinyllm, {label}"] = min(seconds[f"tinyllm, {label}"], run)
    if importlib.util.find_spec("torch") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "weights.safetensors"
            safetensors.numpy.save_file(model.state_dict(), str(weights))
            result = subprocess.run(
                [sys.executable, "-m", "bench.sample", "--torch", str(weights)],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
        seconds["PyTorch eager, no cache"] = float(result.stdout)
    else:
        print("(PyTorch is not importable: no comparison)")
    print(f"Sampling {NEW_TOKENS} tokens after a 1-token prompt, block_size 256, batch 1")
    print(f"{'':28}{'seconds':>9}{'tokens/s':>10}")
    for name, s in seconds.items():
        print(f"{name:<28}{s:>9.3f}{NEW_TOKENS / s:>10,.0f}")
    cached = seconds["tinyllm, KV cache"]
    plain = seconds["tinyllm, no cache"] / cached
    print(f"KV cache speed-up over re-running the context: {plain:.1f}x (target >= 5x)")
    if "PyTorch eager, no cache" in seconds:
        theirs = seconds["PyTorch eager, no cache"] / cached
        print(f"KV cache against PyTorch's uncached sampler: {theirs:.1f}x faster (target > 1x)")


if __name__ == "__main__":
    main()
