"""Regenerate the pictures the README shows, into docs/images/ (`make docs` runs this).

    python docs/make_images.py                  # trains a small GPT for half a minute
    python docs/make_images.py --run runs/NAME  # the loss curve and attention of a real run

The pictures: a micrograd-sized expression with its values and gradients, one step of the
backward pass where a gradient accumulates (`+=`), a GPT's loss graph at depth 1 and 2 and the
reference math inside one attention layer, a loss curve against the corpus's entropy floor,
and a grid of attention heads. Graphs show the reference path, as `tinyllm graph` does.
"""

import argparse
import tempfile
from pathlib import Path

import engine
import nn
import viz
from model import GPT, GPTConfig
from model.run import Run
from model.train import TrainConfig, train

IMAGES = Path(__file__).resolve().parent / "images"


def expression_pictures():
    """micrograd's example, L = (a * b + c) * f, and backward through b = a + a; c = b * b."""
    a = engine.Tensor(2.0, requires_grad=True, name="a")
    b = engine.Tensor(-3.0, requires_grad=True, name="b")
    c = engine.Tensor(10.0, requires_grad=True, name="c")
    f = engine.Tensor(-2.0, requires_grad=True, name="f")
    e = a * b
    e.name = "e"
    d = e + c
    d.name = "d"
    loss = d * f
    loss.name = "L"
    loss.backward(retain_graph=True)
    yield viz.save_graph(viz.draw_graph(loss, show_rules=True), IMAGES / "expression.svg")

    x = engine.Tensor(3.0, requires_grad=True, name="a")
    y = x + x
    y.name = "b"
    z = y * y
    z.name = "c"
    frames = viz.backward_frames(z)
    yield viz.save_graph(frames[0], IMAGES / "backward_step.svg")


def train_small_gpt(run_dir):
    """A small character-level GPT trained for half a minute on stories, into `run_dir`."""
    config = TrainConfig.from_flags(
        out_dir=str(run_dir),
        corpus_chars=100_000,
        n_layer=2,
        n_embd=64,
        max_iters=300,
        lr_decay_iters=300,
        eval_interval=50,
        eval_batches=5,
    )
    train(Run.create(config), progress=False)
    return run_dir


def attention_graph(path):
    """The reference math inside one attention layer of a one-block GPT, every op drawn."""
    engine.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=6, n_layer=1, n_head=2, n_embd=8))
    x = engine.Tensor(engine.generator().standard_normal((1, 6, 8), dtype="float32"), name="x")
    attention = model.transformer.h[0].attn  # (B, T, C) = (1, 6, 8), 2 heads of 4
    return viz.save_graph(viz.draw_graph(attention(x), rankdir="TB"), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", metavar="DIR", help="a trained run to take the plots from")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = list(expression_pictures())

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or train_small_gpt(Path(tmp) / "run")
        model, tokenizer = Run.load_for_sampling(run_dir)
        losses = viz.plot_losses(run_dir)
    paths.append(viz.save_figure(losses, IMAGES / "loss.png"))
    with nn.use_fused(False):
        for depth in (1, 2):
            out = IMAGES / f"gpt_depth{depth}.svg"
            paths.append(viz.render_model_graph(model, out, depth=depth))
        paths.append(attention_graph(IMAGES / "attention_graph.svg"))
    ids = tokenizer.encode("Once upon a time, a little fox")  # 30 tokens: every one labelled
    last = model.config.n_layer - 1
    attention = viz.plot_attention(model, ids, layer=last, tokenizer=tokenizer)
    paths.append(viz.save_figure(attention, IMAGES / "attention.png"))
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
