"""Training speed of the nanoGPT README's CPU "baby GPT", and (optionally) against PyTorch.

    python -m bench.train            step timing, sampling speed, then the full 2000-step recipe
    python -m bench.train --quick    step timing and sampling speed only

The model: char-level tiny shakespeare, n_layer 4, n_head 4, n_embd 128, block 64, batch 12,
no biases, no dropout, float32. When PyTorch is importable (it is never a dependency), the same
model is written in PyTorch below and timed in the same run. `make bench` runs this with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, which otherwise halve NumPy's matmul speed.
"""

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import engine
from model.run import Run
from model.train import TrainConfig, train, train_step

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
BABY_GPT = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=12, bias=False,
                dropout=0.0, max_iters=2000, lr=1e-3, min_lr=1e-4, warmup_iters=100,
                lr_decay_iters=2000, beta1=0.9, beta2=0.99, weight_decay=0.1, eval_interval=250,
                eval_batches=20, log_interval=50)  # fmt: skip


def matmul_peak_gflops(n=1024, repeats=10):
    """NumPy's float32 matmul speed on this machine: the ceiling for our training step."""
    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def flops_per_step(model, config):
    """6 N flops per token for the matmuls (forward 2N, backward 4N) plus attention's
    12 n_layer T C (the PaLM paper's estimate), times the tokens of a step."""
    c = model.config
    per_token = 6 * model.num_params() + 12 * c.n_layer * c.block_size * c.n_embd
    return per_token * config.batch_size * c.block_size


def time_steps(step, warmup=5, repeats=30):
    """Median seconds of `step()` after a few warmup calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tinyllm_step_fn(run):
    config, rng = run.config, np.random.default_rng(0)

    def step():
        batch = run.data.get_batch("train", config.batch_size, rng)
        train_step(run.model, run.optimizer, [batch], config.grad_clip)

    return step


def torch_step_seconds(run):
    """The same model's step in PyTorch, timed in a process of its own; None without PyTorch."""
    if importlib.util.find_spec("torch") is None:
        return None
    options = {**asdict(run.config), **run.model.config.to_dict()}
    script = Path(__file__).with_name("torch_gpt.py")
    result = subprocess.run([sys.executable, str(script), json.dumps(options)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return float(result.stdout)


def sampling_speed(model, new_tokens, use_cache):
    prompt = np.zeros((1, 1), dtype=np.int64)
    start = time.perf_counter()
    model.generate(prompt, new_tokens, seed=0, use_cache=use_cache)
    return new_tokens / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 2000-step recipe")
    args = parser.parse_args()
    engine.keep_freed_memory()  # as train() does
    corpus = str(SHAKESPEARE) if SHAKESPEARE.is_file() else "stories"
    print(f"corpus: {corpus if corpus == 'stories' else SHAKESPEARE.name}")
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig.from_flags(corpus=corpus, out_dir=str(Path(tmp) / "run"), **BABY_GPT)
        run = Run.create(config)
        peak = matmul_peak_gflops()
        seconds = time_steps(tinyllm_step_fn(run))
        flops = flops_per_step(run.model, config)
        tokens = config.batch_size * config.model.block_size
        print(f"\n{'':24}{'ms/step':>10}{'tokens/s':>12}{'GFLOP/s':>10}{'% of peak':>11}")
        print(
            f"{'tinyllm':24}{seconds * 1e3:>10.1f}{tokens / seconds:>12,.0f}"
            f"{flops / seconds / 1e9:>10.1f}{100 * flops / seconds / 1e9 / peak:>10.1f}%"
        )
        torch_seconds = torch_step_seconds(run)
        if torch_seconds is not None:
            print(
                f"{'PyTorch eager':24}{torch_seconds * 1e3:>10.1f}"
                f"{tokens / torch_seconds:>12,.0f}{flops / torch_seconds / 1e9:>10.1f}"
                f"{100 * flops / torch_seconds / 1e9 / peak:>10.1f}%"
            )
            print(f"tinyllm / PyTorch step time: {seconds / torch_seconds:.2f}x (target <= 1.5x)")
        else:
            print("(PyTorch not importable: no comparison)")
        print(
            f"NumPy float32 matmul peak: {peak:.1f} GFLOP/s; "
            f"{run.model.num_params():,} parameters; {flops / 1e9:.2f} GFLOP per step"
        )
        print(
            f"peak memory (max RSS): "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )

        print(f"\n{'sampling':24}{'tokens/s, cache':>17}{'tokens/s, no cache':>20}")
        for n in (64, 500):
            cached, plain = (sampling_speed(run.model, n, c) for c in (True, False))
            print(f"{f'{n} new tokens':24}{cached:>17,.0f}{plain:>20,.0f}")

    if not args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            config = TrainConfig.from_flags(
                corpus=corpus, out_dir=str(Path(tmp) / "run"), **BABY_GPT
            )
            run = Run.create(config)
            start = time.perf_counter()
            losses = train(run, progress=False, log=print)
            minutes = (time.perf_counter() - start) / 60
            ok = "met" if losses["val"] <= 1.90 else "NOT met"
            print(
                f"\n2000-step recipe: val loss {losses['val']:.4f} (target <= 1.90: {ok}), "
                f"train loss {losses['train']:.4f}, {minutes:.1f} min"
            )


if __name__ == "__main__":
    main()
