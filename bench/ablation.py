"""GPT-2 against Llama's pieces, one switch at a time: validation loss and speed.

    python -m bench.ablation            writes docs/tour/ablation.md and ablation.png beside it
    python -m bench.ablation --steps 200 --seeds 1 --out /tmp/quick   a quick look

Every variant is nanoGPT's baby GPT (4 layers, 4 heads, 128 wide, block 64, batch 12, no
dropout) trained for the same number of steps with the same schedule, on each corpus:
tiny Shakespeare at the character level (`../shared/data/tinyshakespeare.txt` beside the
checkout, when it is there) and the generated stories. The variants: GPT-2 itself, each
switch of `GPTConfig` alone (RMSNorm, rotary positions, SwiGLU, grouped-query attention with 2
key/value heads for 4 query heads, untied output weights), and `GPTConfig.llama_like`.

Parameter counts are matched where the switch allows: SwiGLU's hidden size is 8/3 n_embd
rounded up to a multiple of 8 (`GPTConfig.n_inner`), so its three matrices hold about as
many weights as GELU's two; the other switches change the count by what they are (rotary
positions drop the position table, grouped-query attention shares key/value projections,
untied weights add an output matrix), and the table prints each count.

Each variant runs once per seed; the table gives the mean validation loss over the seeds ±
half their range, the ms per training step (the median over the run's logged
intervals, all variants run one after another in this process), and the parameters.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.files import write_atomic
from model.corpus import CORPORA
from model.run import Run
from model.train import train
from model.train_config import TrainConfig
from viz.plots import save_figure

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
SHAPE = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, batch_size=12)
VARIANTS = {
    "GPT-2": {},
    "RMSNorm": dict(norm="rmsnorm"),
    "rotary positions": dict(pos="rope"),
    "SwiGLU": dict(mlp="swiglu"),
    "grouped-query (2 kv heads)": dict(n_kv_head=2),
    "untied output": dict(tie_weights=False),
    "Llama-like (all, no bias)": "llama",
}


def corpora():
    """(name, corpus flag) for each corpus to train on."""
    found = [("stories", "stories")]
    if SHAKESPEARE.is_file():
        found.insert(0, ("tiny Shakespeare", str(SHAKESPEARE)))
    return found


def run_variant(corpus, switches, seed, steps, out_dir):
    """Train one variant; returns (final val loss, ms per step, parameters, [(step, val)])."""
    llama = switches == "llama"
    flags = dict(
        SHAPE, corpus=corpus, seed=seed, max_iters=steps,
        lr_decay_iters=steps, warmup_iters=min(100, steps // 10), lr=1e-3, min_lr=1e-4,
        beta2=0.99, eval_interval=max(steps // 8, 1), eval_batches=20, log_interval=10,
        out_dir=str(out_dir),
    )  # fmt: skip
    if corpus in CORPORA:  # generated, of this size (a file is read whole)
        flags["corpus_chars"] = 300_000
    if not llama:
        flags.update(switches)
    with Run.create(TrainConfig.from_flags(llama=llama, **flags)) as run:
        losses = train(run, progress=False, log=lambda *_: None)
        rates = [m["tokens_per_s"] for m in run.metrics if m.get("tokens_per_s")]
        tokens = SHAPE["batch_size"] * SHAPE["block_size"]
        ms = 1e3 * tokens / statistics.median(rates)
        curve = [(m["step"], m["val_loss"]) for m in run.metrics if m["kind"] == "eval"]
        return losses["val"], ms, run.model.num_params(), curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps (default 1000)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per variant (default 2)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="docs directory to write to")
    args = parser.parse_args()
    results, start = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for corpus_name, corpus in corpora():
            for name, switches in VARIANTS.items():
                for seed in range(1, args.seeds + 1):
                    out_dir = Path(tmp) / f"{len(results)}-{seed}"
                    result = run_variant(corpus, switches, seed, args.steps, out_dir)
                    results.setdefault((corpus_name, name), []).append(result)
                    val, ms, count, _ = result
                    print(f"{corpus_name:>16} | {name:<28} seed {seed}: val {val:.4f}, "
                          f"{ms:.1f} ms/step, {count:,} parameters", flush=True)  # fmt: skip
    minutes = (time.perf_counter() - start) / 60
    write_table(results, args, minutes, Path(args.out))
    write_curves(results, Path(args.out))


BEGIN, END = "<!-- measured: begin -->", "<!-- measured: end -->"
PAGE = f"""# The ablation: GPT-2's pieces against Llama's, measured

[Chapter 9](09-modern.md#the-ablation-what-each-switch-does-at-this-scale) says what this
compares and how to read it. Reproduce it with `python -m bench.ablation` (about 20 minutes
on 2 cores).

{BEGIN}
{END}
"""


def write_table(results, args, minutes, docs):
    """The table into docs/tour/ablation.md, between its BEGIN and END markers: the text around
    them (the reading of the numbers) is kept."""
    lines = [
        f"Validation loss (nats per character) after {args.steps} steps: the mean over "
        f"{args.seeds} seed(s) ± half their range; ms per training step; and "
        f"parameters (the stories corpus's vocabulary; tiny Shakespeare's adds 11 embedding "
        f"rows). Measured by `python -m bench.ablation` in {minutes:.0f} minutes on this "
        "project's 2-core machine.",
        "",
    ]
    corpus_names = list(dict.fromkeys(c for c, _ in results))
    head = "| variant | " + " | ".join(f"{c}: val loss" for c in corpus_names)
    lines += [head + " | ms/step | parameters |", "|---" * (len(corpus_names) + 3) + "|"]
    for name in VARIANTS:
        cells, ms = [], []
        for corpus in corpus_names:
            runs = results[corpus, name]
            vals = [r[0] for r in runs]
            spread = f" ± {(max(vals) - min(vals)) / 2:.3f}" if len(vals) > 1 else ""
            cells.append(f"{np.mean(vals):.3f}{spread}")
            ms += [r[1] for r in runs]
        count = results[corpus_names[-1], name][0][2]  # the stories' vocabulary
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {statistics.median(ms):.1f} | {count:,} |")  # fmt: skip
    lines += ["", "![validation loss against step for each variant](ablation.png)"]
    page = docs / "tour" / "ablation.md"
    text = page.read_text(encoding="utf-8") if page.is_file() else ""
    if BEGIN not in text or END not in text:
        text = PAGE
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    page.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(page, before + BEGIN + "\n" + "\n".join(lines) + "\n" + END + after)
    print("\n".join(lines))


def write_curves(results, docs):
    from matplotlib.figure import Figure

    corpus_names = list(dict.fromkeys(c for c, _ in results))
    fig = Figure(figsize=(6 * len(corpus_names), 4.2), layout="constrained")
    for ax, corpus in zip(fig.subplots(1, len(corpus_names), squeeze=False)[0], corpus_names,
                          strict=True):  # fmt: skip
        for name in VARIANTS:
            curves = [r[3] for r in results[corpus, name]]
            steps = [s for s, _ in curves[0]]
            mean = np.mean([[v for _, v in c] for c in curves], axis=0)
            ax.plot(steps[1:], mean[1:], marker="o", markersize=3, label=name)
        ax.set(title=corpus, xlabel="step", ylabel="validation loss (nats per character)")
        ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    save_figure(fig, docs / "tour" / "ablation.png")


if __name__ == "__main__":
    main()
