"""What a finished run shows its person: loss against the floor, samples, and pictures."""

from pathlib import Path

import numpy as np

from engine.files import write_atomic
from model import corpus
from model.run import Run
from model.run_dir import CHECKPOINTS, GRAPH, LOSS_PLOT, SAMPLES


def final_report(run, num_samples=3, sample_tokens=300, log=print):
    """Save samples and pictures, then print them, and the val loss against the entropy floor.
    All is saved before anything is printed: if the output's reader has gone, nothing is lost."""
    start = _start(run)
    prompt = np.repeat(np.array([start], np.int64), num_samples, axis=0)
    out = run.model.generate(prompt, sample_tokens, temperature=0.8, seed=run.config.seed)
    samples = [run.tokenizer.decode(row[len(start) :].tolist()) for row in out]
    separator = "\n" + "-" * 60 + "\n"
    write_atomic(run.dir / SAMPLES, separator.join(samples) + "\n")
    if run.config.corpus == "addition":
        accuracy = corpus.addition_accuracy(_greedy_completer(run))
    notes = []
    paths = draw_pictures(run, notes.append)
    log(separator.join(["Samples:", *samples]))
    val_losses = [m["val_loss"] for m in run.metrics if m.get("val_loss") is not None]
    if val_losses:
        val = val_losses[-1]
        if run.floor is None:
            log(f"Final val loss {val:.4f} nats per token.")
        else:
            log(
                f"Final val loss {val:.4f} nats per token; the corpus's entropy floor is "
                f"{run.floor:.4f}: the model is {val - run.floor:.4f} above a perfect one."
            )
    if run.config.corpus == "addition":
        log(f"Exact-match accuracy on held-out additions: {accuracy:.1%}")
    for line in [*notes, *(f"wrote {path}" for path in paths)]:
        log(line)


def _start(run):
    """The ids the samples continue: a newline, after which the corpora's lines and stories
    begin (as `tinyllm sample` starts by default), or the corpus's first token where the
    vocabulary has no newline. A sample started mid-word would open with garbled letters."""
    try:
        return run.tokenizer.encode("\n")
    except ValueError:
        return run.data.train[:1].tolist()


def _greedy_completer(run):
    def complete(prompt, max_new_tokens):
        ids = np.array([run.tokenizer.encode(prompt)])
        out = run.model.generate(ids, max_new_tokens, temperature=0)
        return run.tokenizer.decode(out[0, ids.shape[1] :].tolist())

    return complete


def draw_pictures(run, log=print):
    """The loss curve and the model's graph, into the run directory; returns their paths.
    Without Graphviz's `dot` the graph is left out, and `log` says why: the run itself is done."""
    import viz
    from viz.graph import DotNotFound

    losses = run.dir / LOSS_PLOT
    viz.plot_losses(run.dir, path=losses)
    try:
        return [losses, draw_model_graph(run.dir, run.dir / GRAPH, depth=2)]
    except DotNotFound as error:
        log(f"{GRAPH} not drawn: {error}")
        return [losses]


def draw_model_graph(run_dir, out, depth=2, rules=False, fused=False):
    """Render the loss graph of a run's model (or of a fresh default model) to `out`: the
    reference math of every op, or with `fused` the kernels that training runs."""
    import nn
    import viz
    from model.gpt import GPT, GPTConfig

    if run_dir is None:
        model = GPT(GPTConfig(vocab_size=64))
    else:
        model, _ = Run.load_for_sampling(run_dir)
    with nn.use_fused(fused):
        return viz.render_model_graph(model, Path(out), depth=depth, rules=rules)


def plot_run(run_dir):
    """Loss curve, attention grid and embedding map of a run, into its directory."""
    import viz

    if Path(run_dir).parent.name == CHECKPOINTS:  # its files are the checkpoint, nothing else
        raise ValueError(f"{run_dir} is a checkpoint: plot its run, where the pictures go")
    model, tokenizer = Run.load_for_sampling(run_dir)
    return viz.plot_run(Path(run_dir), model, tokenizer)
