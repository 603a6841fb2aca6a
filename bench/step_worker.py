"""One engine's training step, timed in a process of its own (bench/train.py drives it).

    python -m bench.step_worker tinyllm '{"vocab_size": 65, "block_size": 64, ...}'
    python -m bench.step_worker torch '{"vocab_size": 65, "block_size": 64, ...}'

Builds the model and its AdamW once (ours with its data-parallel worker, where train() would
have one: model/data_parallel.py), prints "ready", then for each line "K" on stdin runs one
untimed step and K timed training steps (forward, backward, clip, AdamW, zero grads) on random
batches, and prints the timed steps' median in seconds. The untimed step matters: a process
that has waited through the other engine's round starts with cold caches and, for PyTorch,
sleeping threads, which made its first step up to 2.5x slower than the next. A line "memory"
prints the peak resident memory in bytes instead, that of the data-parallel worker added.
Keeping both engines alive while the driver asks each in turn for a few steps interleaves
their rounds, so both see the same machine, however busy it is. One process per engine:
PyTorch's and NumPy's thread pools in one process slow each other down several times over.
"""

import json
import resource
import statistics
import sys
import time


def tinyllm_step(options):
    """A `step()` closure for our GPT with the options' shape and optimizer settings."""
    from types import SimpleNamespace

    import numpy as np

    import engine
    from model.data_parallel import data_parallel
    from model.gpt import GPT, GPTConfig
    from model.train import loss_backward, make_optimizer, train_step

    engine.keep_freed_memory()  # as train() does
    engine.manual_seed(0)
    shape = {k: options[k] for k in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")}
    model = GPT(GPTConfig(**shape, bias=options["bias"], dropout=0.0))
    optimizer = make_optimizer(model, SimpleNamespace(**options))
    rng = np.random.default_rng(0)
    batch = (options["batch_size"], options["block_size"])
    # As train() does. Held by `step`, never exited: the worker lives as long as this process.
    context = data_parallel(model, loss_backward)
    parallel = context.__enter__()

    def step():
        x, y = rng.integers(0, options["vocab_size"], (2, *batch))
        train_step(model, optimizer, [(x, y)], options["grad_clip"], parallel)

    step.context, step.workers = context, [] if parallel is None else [parallel.worker_pid]
    return step


def torch_step(options):
    """The same step in PyTorch eager (bench/torch_gpt.py), on the same shapes."""
    import torch

    from bench.torch_gpt import TorchGPT, make_optimizer

    torch.manual_seed(0)
    model = TorchGPT(options)
    optimizer = make_optimizer(model, options)
    params = list(model.parameters())
    batch = (options["batch_size"], options["block_size"])

    def step():
        x, y = torch.randint(0, options["vocab_size"], (2, *batch))
        model(x, y).backward()
        torch.nn.utils.clip_grad_norm_(params, options["grad_clip"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main():
    engine_name, options = sys.argv[1], json.loads(sys.argv[2])
    step = {"tinyllm": tinyllm_step, "torch": torch_step}[engine_name](options)
    for _ in range(3):  # warm up: first calls allocate and fault in their memory
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "memory":
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            print(peak + sum(map(_peak_memory, getattr(step, "workers", []))), flush=True)
            continue
        step()  # untimed: after the other engine's round, this one's caches and threads are cold
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(statistics.median(times), flush=True)


def _peak_memory(pid):
    """The peak resident memory of the process `pid` in bytes (Linux: VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


if __name__ == "__main__":
    main()
