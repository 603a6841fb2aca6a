"""GPT-2 124M in the engine: loading, memory, a 1 x 1024 forward pass, sampling with the KV cache.

    python -m bench.gpt2

Builds a GPT of GPT-2 small's exact shape (50,257 tokens, 1,024 positions, 12 layers of 12
heads, 768 wide: 124,439,808 parameters) with random weights, saves it as Hugging Face does
(`save_pretrained`: config.json + model.safetensors, 498 MB) in a temporary directory, and
measures each engine in a process of its own (PyTorch's and NumPy's thread pools slow each other
down in one process; see bench/step_worker.py):

    load       `from_pretrained` of the directory, in seconds
    memory     the process's peak resident memory, after everything below
    forward    one forward pass of 1 x 1024 random tokens, no gradient: the median of 3
    sampling   64 new tokens after a 16-token prompt, greedy, with the KV cache, batch 1

When `transformers` is importable (never a dependency), Hugging Face's `GPT2LMHeadModel` loads
the same directory and does the same, and the two forward passes' logits are compared.
"""

import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GPT2_SMALL = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
PROMPT, NEW_TOKENS, FORWARDS = 16, 64, 3


def tokens(vocab_size):
    """The 1 x 1024 token ids both engines read."""
    return np.random.default_rng(0).integers(0, vocab_size, size=(1, 1024))


def tinyllm_worker(directory):
    """(results, logits) of our engine: from_pretrained, forward, KV-cache sampling."""
    import engine
    import nn
    from model import GPT

    nn.kernels.parallel.use_all_cores()
    start = time.perf_counter()
    model = GPT.from_pretrained(directory).eval()
    load = time.perf_counter() - start
    ids, times = tokens(model.config.vocab_size), []
    with engine.no_grad():
        for _ in range(FORWARDS):
            start = time.perf_counter()
            logits = model(ids)[0].data
            times.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.generate(ids[:, :PROMPT], NEW_TOKENS, temperature=0)
    sampling = time.perf_counter() - start
    return dict(load=load, forward=statistics.median(times), sampling=sampling), logits


def transformers_worker(directory):
    """(results, logits) of Hugging Face's GPT2LMHeadModel on the same directory."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.set_grad_enabled(False)
    start = time.perf_counter()
    model = GPT2LMHeadModel.from_pretrained(directory, dtype=torch.float32).eval()
    load = time.perf_counter() - start
    ids, times = torch.tensor(tokens(model.config.vocab_size)), []
    for _ in range(FORWARDS):
        start = time.perf_counter()
        logits = model(ids).logits
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.generate(ids[:, :PROMPT], max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                   do_sample=False, use_cache=True, pad_token_id=0)  # fmt: skip
    sampling = time.perf_counter() - start
    return dict(load=load, forward=statistics.median(times), sampling=sampling), logits.numpy()


WORKERS = {"tinyllm": tinyllm_worker, "transformers": transformers_worker}


def peak_memory():
    """This process's peak resident memory in bytes: Linux's VmHWM, which starts afresh with the
    program (ru_maxrss would count the driver's model too: a forked child inherits it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(engine_name, directory, logits_path):
    """Run one engine's worker in a process of its own; returns its results."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.gpt2", engine_name, str(directory), str(logits_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if result.returncode != 0:
        raise RuntimeError(f"the {engine_name} worker failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def main():
    if len(sys.argv) == 4:  # a worker: ENGINE DIRECTORY LOGITS.npy
        results, logits = WORKERS[sys.argv[1]](sys.argv[2])
        np.save(sys.argv[3], logits[0].astype(np.float32))
        results["memory"] = peak_memory()
        print(json.dumps(results))
        return
    import engine
    from model import GPT, GPTConfig

    engine.manual_seed(0)
    model = GPT(GPTConfig(**GPT2_SMALL))
    engines = ["tinyllm"]
    if importlib.util.find_spec("transformers") and importlib.util.find_spec("torch"):
        engines.append("transformers")
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(Path(tmp) / "gpt2")
        size = (Path(tmp) / "gpt2" / "model.safetensors").stat().st_size
        count = model.num_params()
        del model
        results = {name: measure(name, Path(tmp) / "gpt2", Path(tmp) / f"{name}.npy")
                   for name in engines}  # fmt: skip
        logits = {name: np.load(Path(tmp) / f"{name}.npy") for name in engines}
    print(f"GPT-2 124M ({count:,} parameters, model.safetensors {size / 1e6:.0f} MB), "
          "float32, batch 1")  # fmt: skip
    print(f"{'':34}" + "".join(f"{name:>14}" for name in engines))
    rows = [
        ("load: from_pretrained (s)", lambda r: f"{r['load']:.2f}"),
        ("peak memory (MiB)", lambda r: f"{r['memory'] / 2**20:,.0f}"),
        ("forward, 1 x 1024 tokens (ms)", lambda r: f"{1000 * r['forward']:,.0f}"),
        ("sampling with KV cache (tokens/s)", lambda r: f"{NEW_TOKENS / r['sampling']:.1f}"),
    ]
    for label, cell in rows:
        print(f"{label:<34}" + "".join(f"{cell(results[name]):>14}" for name in engines))
    if "transformers" in logits:
        difference = np.abs(logits["tinyllm"] - logits["transformers"]).max()
        scale = np.abs(logits["transformers"]).max()
        print(f"logits of the 1 x 1024 forward: max |tinyllm - transformers| {difference:.2e} "
              f"(largest |logit| {scale:.2f})")  # fmt: skip
    else:
        print("(transformers is not importable: no comparison)")


if __name__ == "__main__":
    main()
