"""Regenerate the pictures the README shows, into docs/images/ (`make docs` runs this).

    python docs/make_images.py                  # trains a small GPT for a few seconds
    python docs/make_images.py --run runs/NAME  # the loss curve and attention of a real run

The pictures: a micrograd-sized expression with its values and gradients, one step of the
backward pass where a gradient accumulates (`+=`), a GPT's loss graph at depth 1 and 2, a loss
curve against the corpus's entropy floor, and a grid of attention heads.
"""

import argparse
from pathlib import Path

import numpy as np

import engine
import nn
import viz
from model import GPT, GPTConfig
from model.corpus import get_corpus
from tokenizer.bpe import BPETokenizer

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


def train_small_gpt(steps=300, batch_size=16):
    """A character-level GPT trained briefly on the stories corpus: (model, tokenizer, metrics)."""
    engine.manual_seed(0)
    text, floor = get_corpus("stories", n_chars=40_000)
    tokenizer = BPETokenizer(pattern=None)  # untrained: one token per byte
    data = np.array(tokenizer.encode(text), dtype=np.int64)
    split = int(0.9 * len(data))
    config = GPTConfig(tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    model = GPT(config)
    optimizer = nn.optim.AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)

    def batch(lo, hi):
        starts = rng.integers(lo, hi - config.block_size - 1, size=batch_size)
        x = np.stack([data[s : s + config.block_size] for s in starts])
        y = np.stack([data[s + 1 : s + config.block_size + 1] for s in starts])
        return x, y

    metrics = []
    for step in range(steps):
        x, y = batch(0, split)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        row = {"step": step, "train_loss": loss.item()}
        if step % 25 == 0 or step == steps - 1:
            with engine.no_grad():
                row["val_loss"] = model(*batch(split, len(data)))[1].item()
        metrics.append(row | {"entropy_floor": floor})
    return model, tokenizer, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", metavar="DIR", help="a trained run to take the plots from")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = list(expression_pictures())

    if args.run is None:
        model, tokenizer, metrics = train_small_gpt()
        losses = viz.plot_losses(metrics)
    else:
        from model.run import Run

        model, tokenizer = Run.load_for_sampling(args.run)
        losses = viz.plot_losses(args.run)
    paths.append(viz.save_figure(losses, IMAGES / "loss.png"))
    for depth in (1, 2):
        out = IMAGES / f"gpt_depth{depth}.svg"
        paths.append(viz.render_model_graph(model, out, depth=depth))
    ids = tokenizer.encode("Once upon a time, a little fox named Coco")[: model.config.block_size]
    last = model.config.n_layer - 1
    attention = viz.plot_attention(model, ids, layer=last, tokenizer=tokenizer)
    paths.append(viz.save_figure(attention, IMAGES / "attention.png"))
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
