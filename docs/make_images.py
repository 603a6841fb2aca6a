"""Regenerate the pictures of the README and the tour, into docs/images/ (`make docs`).

    python docs/make_images.py                  # trains a small GPT for half a minute
    python docs/make_images.py --run runs/NAME  # the run's pictures from a real run

Every picture comes from fixed seeds, so a second run draws the same ones. `PICTURES` names
them all (tests/test_tour.py holds docs/images/ to that list): a micrograd-sized expression with
every node's value and gradient, all the frames of a backward pass side by side, the embedding
lookup's gradient, a BPE tokenizer's merges, a GPT's architecture (GPT-2's, Llama's, GPT-2
124M's), a GPT's loss graph at depth 1 and 2 on real text, the reference math inside one
attention layer and inside RMSNorm, a loss curve against the corpus's entropy floor, a grid of
attention heads, the token embeddings, and the next-token distribution that sampling draws from.
Graphs show the reference path, as `tinyllm graph` does.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import engine
import nn
import nn.functional as F
import viz
from model import GPT, GPTConfig
from model.corpus import get_corpus
from model.run import Run
from model.train import train
from model.train_config import TrainConfig
from tokenizer import BPETokenizer

IMAGES = Path(__file__).resolve().parent / "images"
PICTURES = (
    "architecture.svg",
    "architecture_gpt2_124m.svg",
    "architecture_llama.svg",
    "attention.png",
    "attention_graph.svg",
    "backward_steps.svg",
    "bpe_merges.png",
    "embedding_grad.svg",
    "embeddings.png",
    "expression.svg",
    "gpt_depth1.svg",
    "gpt_depth2.svg",
    "loss.png",
    "next_token.png",
    "rms_norm_graph.svg",
)
TEXT = (  # as the stories corpus tells them
    "Once upon a time, there was a little fox named Luna. "
    "Luna lived in a little house by the river."
)
PROMPT = "Once upon a time, there was a little "  # then a fox (3 in 17), a rabbit (3 in 17), ...


def expression_pictures():
    """micrograd's example, L = (a * b + c) * f, with the gradient of every node (the
    intermediate ones kept by retain_grad), and backward through b = a + a; c = b * b."""
    a = engine.Tensor(2.0, requires_grad=True, name="a")
    b = engine.Tensor(-3.0, requires_grad=True, name="b")
    c = engine.Tensor(10.0, requires_grad=True, name="c")
    f = engine.Tensor(-2.0, requires_grad=True, name="f")
    e = a * b
    d = e + c
    loss = d * f
    for t, name in ((e, "e"), (d, "d"), (loss, "L")):
        t.name = name
        t.retain_grad()
    loss.backward(retain_graph=True)
    yield viz.save_graph(viz.draw_graph(loss, show_rules=True), IMAGES / "expression.svg")

    x = engine.Tensor(3.0, requires_grad=True, name="a")
    y = x + x
    y.name = "b"
    z = y * y
    z.name = "c"
    yield viz.save_graph(viz.backward_side_by_side(z), IMAGES / "backward_steps.svg")


def small_graphs():
    """The gradient of an embedding lookup (rows of repeated ids add up), and RMSNorm's math."""
    table = engine.Tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], requires_grad=True, name="wte")
    rows = F.embedding([0, 2, 0], table)  # id 0 twice
    rows.name = "rows"
    loss = rows.sum()
    loss.name = "L"
    loss.backward()
    yield viz.save_graph(viz.draw_graph(loss, show_rules=True), IMAGES / "embedding_grad.svg")

    engine.manual_seed(0)
    x = engine.generator().standard_normal((2, 3), dtype="float32")
    x = engine.Tensor(x, requires_grad=True, name="x")  # two rows of C = 3 channels
    weight = engine.Tensor(np.ones(3, dtype=np.float32), requires_grad=True, name="weight")
    with nn.use_fused(False):
        y = F.rms_norm(x, 3, weight)
    yield viz.save_graph(viz.draw_graph(y, rankdir="TB"), IMAGES / "rms_norm_graph.svg")


def architectures():
    """GPT-2's layout as `make train` builds it, Llama's preset, and GPT-2 124M's shape."""
    shapes = {
        "architecture.svg": GPTConfig(vocab_size=54),
        "architecture_llama.svg": GPTConfig.llama_like(vocab_size=54),
        "architecture_gpt2_124m.svg": GPTConfig(block_size=1024, n_layer=12, n_head=12, n_embd=768),
    }
    for name, config in shapes.items():
        yield viz.save_graph(viz.draw_architecture(config), IMAGES / name)


def merges_picture():
    """TEXT's first sentence cut by a 300-merge BPE tokenizer trained on 100,000 characters of
    stories."""
    text, _ = get_corpus("stories", n_chars=100_000)
    tok = BPETokenizer().train(text, vocab_size=256 + 300)
    first = TEXT[: TEXT.index(".") + 1]
    yield viz.save_figure(viz.plot_merges(tok, first), IMAGES / "bpe_merges.png")


def train_small_gpt(run_dir):
    """A small character-level GPT trained for half a minute on stories, into `run_dir`."""
    config = TrainConfig.from_flags(
        out_dir=str(run_dir),
        corpus_chars=100_000,
        n_layer=2,
        n_embd=64,
        block_size=64,
        batch_size=16,
        max_iters=2000,
        lr_decay_iters=2000,
        eval_interval=200,
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


def model_pictures(run_dir):
    """The pictures of a trained model: its loss curve, its graph on real text, its attention,
    embeddings and next-token distribution."""
    model, tokenizer = Run.load_for_sampling(run_dir)
    config = model.config
    title = f"{config.n_layer} layers, {config.n_embd} wide, character-level, on stories"
    yield viz.save_figure(viz.plot_losses(run_dir, title=title), IMAGES / "loss.png")
    ids = np.array([tokenizer.encode(TEXT)[: config.block_size + 1]], dtype=np.int64)
    with nn.use_fused(False):
        for depth in (1, 2):
            out = IMAGES / f"gpt_depth{depth}.svg"
            yield viz.render_model_graph(model, out, ids[:, :-1], ids[:, 1:], depth=depth)
        yield attention_graph(IMAGES / "attention_graph.svg")
    last = config.n_layer - 1
    attention = viz.plot_attention(model, ids[0, :32], layer=last, tokenizer=tokenizer)
    yield viz.save_figure(attention, IMAGES / "attention.png")
    yield viz.save_figure(viz.plot_embeddings(model, tokenizer), IMAGES / "embeddings.png")
    next_token = viz.plot_next_token(model, tokenizer, PROMPT)
    yield viz.save_figure(next_token, IMAGES / "next_token.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", metavar="DIR", help="a trained run to take the pictures from")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    paths = [*expression_pictures(), *small_graphs(), *architectures(), *merges_picture()]
    with tempfile.TemporaryDirectory() as tmp:
        paths += model_pictures(args.run or train_small_gpt(Path(tmp) / "run"))
    for path in paths:
        print(f"wrote {path}")
    stale = sorted(p.name for p in IMAGES.iterdir() if p.name not in PICTURES)
    if stale:
        print(f"not made by this script, delete if unused: {', '.join(stale)}")


if __name__ == "__main__":
    main()
