"""Training speed and memory against PyTorch eager, at every size this project trains.

    python -m bench.train            the baby-GPT step, the table of sizes, and peak memory
    python -m bench.train --quick    the baby-GPT step only
    python -m bench.train --recipe   also nanoGPT's 2000-step recipe on tiny Shakespeare

The baby GPT is nanoGPT's CPU recipe: 4 layers, 4 heads, 128 wide, block 64, batch 12, no
biases, no dropout, float32, a 65-token vocabulary. When PyTorch is importable (it is never a
dependency), every figure is measured side by side: one worker process per engine
(bench/step_worker.py) stays alive, and the driver asks each in turn for a round of steps, so
the rounds interleave and both engines see the same machine, however busy it is. Reported: the
median over rounds of each engine's step time, and the median of the per-round ratios.

The matmul peak is NumPy's float32 `a @ b` on 1024 x 1024 matrices, measured before each
measurement; "% of peak" is the step's FLOPs (6 N per token plus attention, as in the PaLM
paper) over its time, against that peak. `make bench` runs this with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset, which otherwise halve NumPy's matmul speed.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BABY_GPT = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch_size=12,
                bias=False, lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.1,
                grad_clip=1.0)  # fmt: skip
SIZES = [(n_embd, block) for n_embd in (64, 128, 256, 512) for block in (64, 256)]
SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
HAVE_TORCH = importlib.util.find_spec("torch") is not None


class Worker:
    """A bench/step_worker.py process holding one engine's model, ready to time steps."""

    def __init__(self, engine_name, options):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.step_worker", engine_name, json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        if self._ask(None) != "ready":
            raise RuntimeError(f"the {engine_name} worker did not start")

    def _ask(self, line):
        if line is not None:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def step_seconds(self, steps):
        """The median time of `steps` training steps, in seconds."""
        return float(self._ask(str(steps)))

    def peak_memory(self):
        """The process's peak resident memory so far, in bytes."""
        return int(self._ask("memory"))

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def matmul_peak_gflops(n=1024, repeats=10):
    """NumPy's float32 matmul speed right now: the ceiling for a training step."""
    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_step(o):
    """6 N flops per token for the matmuls (forward 2N, backward 4N), N the parameters with the
    tied embedding counted once, plus attention's 12 n_layer T C; times the tokens of a step."""
    C, L, T = o["n_embd"], o["n_layer"], o["block_size"]
    params = o["vocab_size"] * C + T * C + L * (12 * C * C + 2 * C) + C  # no biases
    return (6 * params + 12 * L * T * C) * o["batch_size"] * T


def compare(options, rounds, steps):
    """{engine: median step seconds} and the median per-round ratio tinyllm / torch."""
    names = ["tinyllm", "torch"] if HAVE_TORCH else ["tinyllm"]
    workers = {name: Worker(name, options) for name in names}
    times = {name: [] for name in names}
    try:
        for _ in range(rounds):
            for name, worker in workers.items():
                times[name].append(worker.step_seconds(steps))
    finally:
        for worker in workers.values():
            worker.close()
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = None
    if HAVE_TORCH:
        ratio = statistics.median(
            a / b for a, b in zip(times["tinyllm"], times["torch"], strict=True)
        )
    return medians, ratio


def row(name, seconds, options, peak):
    flops = flops_per_step(options)
    tokens = options["batch_size"] * options["block_size"]
    return (
        f"{name:<16}{seconds * 1e3:>9.1f}{tokens / seconds:>11,.0f}"
        f"{flops / seconds / 1e9:>9.1f}{100 * flops / seconds / 1e9 / peak:>9.1f}%"
    )


def baby_gpt(rounds=15, steps=8):
    peak = matmul_peak_gflops()
    medians, ratio = compare(BABY_GPT, rounds, steps)
    peak = max(peak, matmul_peak_gflops())
    print(f"Training step, nanoGPT's baby GPT ({rounds} interleaved rounds of {steps} steps)")
    print(f"{'':16}{'ms/step':>9}{'tokens/s':>11}{'GFLOP/s':>9}{'of peak':>10}")
    for name, seconds in medians.items():
        print(row("tinyllm" if name == "tinyllm" else "PyTorch eager", seconds, BABY_GPT, peak))
    if ratio is not None:
        print(f"tinyllm / PyTorch step time: {ratio:.2f}x (median of per-round ratios)")
    print(f"NumPy float32 matmul peak: {peak:.0f} GFLOP/s\n")


def size_table(rounds=15, steps=2):
    print(f"Every size (4 layers, batch 12; {rounds} interleaved rounds of {steps} steps)")
    head = f"{'n_embd':>6}{'block':>6}{'tinyllm ms':>12}{'PyTorch ms':>12}{'ratio':>7}"
    print(head + f"{'tinyllm tok/s':>15}{'PyTorch tok/s':>15}{'% peak ours/theirs':>20}")
    for n_embd, block in SIZES:
        options = {**BABY_GPT, "n_embd": n_embd, "block_size": block}
        peak = matmul_peak_gflops()
        medians, ratio = compare(options, rounds, steps)
        peak = max(peak, matmul_peak_gflops())
        tokens, flops = options["batch_size"] * block, flops_per_step(options)
        ours, theirs = medians["tinyllm"], medians.get("torch", float("nan"))
        shares = [100 * flops / s / 1e9 / peak for s in (ours, theirs)]
        print(
            f"{n_embd:>6}{block:>6}{ours * 1e3:>12.1f}{theirs * 1e3:>12.1f}"
            f"{ratio if ratio is not None else float('nan'):>7.2f}{tokens / ours:>15,.0f}"
            f"{tokens / theirs:>15,.0f}{shares[0]:>11.0f}% / {shares[1]:.0f}%"
        )
    print()


def peak_memory(steps=200):
    """Peak resident memory of a 200-step training run, each engine in a fresh process."""
    print(f"Peak memory (max RSS) of a {steps}-step baby-GPT run, each engine in its own process")
    for name in ["tinyllm", "torch"] if HAVE_TORCH else ["tinyllm"]:
        worker = Worker(name, BABY_GPT)
        worker.step_seconds(steps)
        print(f"{name:<16}{worker.peak_memory() / 2**20:>9.0f} MiB")
        worker.close()
    print()


def recipe():
    """nanoGPT's 2000-step baby-GPT recipe on tiny Shakespeare (or the stories corpus)."""
    from model.run import Run
    from model.train import train
    from model.train_config import TrainConfig

    corpus = str(SHAKESPEARE) if SHAKESPEARE.is_file() else "stories"
    shape = {k: v for k, v in BABY_GPT.items() if k not in ("vocab_size", "grad_clip")}
    flags = dict(shape, max_iters=2000, min_lr=1e-4, warmup_iters=100, lr_decay_iters=2000,
                 dropout=0.0, eval_interval=250, eval_batches=20, log_interval=50)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig.from_flags(corpus=corpus, out_dir=os.path.join(tmp, "run"), **flags)
        start = time.perf_counter()
        losses = train(Run.create(config), progress=False, log=print)
        minutes = (time.perf_counter() - start) / 60
    print(
        f"2000-step recipe on {Path(corpus).name}: val loss {losses['val']:.4f}, {minutes:.1f} min"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the baby-GPT step only")
    parser.add_argument("--recipe", action="store_true", help="also the 2000-step recipe")
    args = parser.parse_args()
    if not HAVE_TORCH:
        print("(PyTorch is not importable: tinyllm's figures only, no comparison)\n")
    baby_gpt()
    if not args.quick:
        size_table()
        peak_memory()
    if args.recipe:
        recipe()


if __name__ == "__main__":
    main()
