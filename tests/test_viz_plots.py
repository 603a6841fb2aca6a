"""viz plots: loss curves, attention heatmaps, embeddings by PCA, the next-token distribution."""

import json

import matplotlib.figure
import numpy as np
import pytest

import viz
from model import GPT, GPTConfig
from model.sample import next_token_probs
from tokenizer import CharTokenizer
from tokenizer.bpe import BPETokenizer
from viz.plots import token_label

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run_dir(tmp_path):
    # as training writes them: a batch's loss at every step, means over eval batches every 25
    rows = [
        {"step": s, "train_loss": 4.0 - 0.01 * s, "lr": 1e-3, "kind": "train"} for s in range(100)
    ]
    for s in range(0, 100, 25):
        rows.append({"step": s, "train_loss": 3.9 - 0.01 * s, "val_loss": 4.1 - 0.01 * s,
                     "lr": 1e-3, "kind": "eval"})  # fmt: skip
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    (tmp_path / "metrics.jsonl").write_text(lines, encoding="utf-8")
    checkpoint = tmp_path / "checkpoints" / "step-000099"  # as model/run.py lays a run out
    checkpoint.mkdir(parents=True)
    state = {"config": {}, "step": 99, "best_val": 3.1, "best_step": 75, "entropy_floor": 1.5,
             "text_sha256": "", "data_rng": {}, "engine_rng": {}}  # fmt: skip
    (checkpoint / "state.json").write_text(json.dumps(state), encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="module")
def tiny():
    tokenizer = BPETokenizer(pattern=None)
    config = GPTConfig(tokenizer.vocab_size, block_size=16, n_layer=2, n_head=3, n_embd=24)
    return GPT(config), tokenizer


def assert_image_files(png, svg):
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    assert "<svg" in svg.read_text(encoding="utf-8")


def test_plot_losses_from_a_run_directory(run_dir):
    fig = viz.plot_losses(run_dir, path=run_dir / "loss.png")
    viz.plot_losses(run_dir, path=run_dir / "loss.svg")
    assert_image_files(run_dir / "loss.png", run_dir / "loss.svg")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert len(lines["one training batch, at each logged step"].get_xdata()) == 100
    smooth = lines["running mean of 5 logged batches"]  # k = 100 // 20
    assert len(smooth.get_xdata()) == 96 and smooth.get_ydata()[0] == pytest.approx(3.98)
    # the evaluations' means are drawn apart from the single batches, not mixed into them
    means = lines["train split, mean over the eval batches"].get_ydata()
    assert list(means) == pytest.approx([3.9, 3.65, 3.4, 3.15])
    assert list(lines["validation, mean over the eval batches"].get_xdata()) == [0, 25, 50, 75]
    assert ax.get_title() == "train and validation loss"  # not the run directory's name
    floors = [line for line in ax.get_lines() if set(line.get_ydata()) == {1.5}]
    assert len(floors) == 1  # the entropy floor from the newest checkpoint's state.json
    assert any("entropy floor 1.500" in t.get_text() for t in ax.texts)


def test_plot_losses_from_rows_with_explicit_floor_and_bad_input(tmp_path):
    rows = [{"step": 0, "val_loss": 3.0}, {"step": 10, "val_loss": 2.0}]
    ax = viz.plot_losses(rows, floor=0.7, title="a run").axes[0]
    assert [set(line.get_ydata()) for line in ax.get_lines()][-1] == {0.7}
    assert [line.get_label() for line in ax.get_lines()][0].startswith("validation")
    assert ax.get_title() == "a run"
    old_rows = [{"step": 0, "train_loss": 3.0, "val_loss": 3.1}, {"step": 1, "train_loss": 2.9}]
    labels = [line.get_label() for line in viz.plot_losses(old_rows).axes[0].get_lines()]
    assert labels[:2] == [
        "one training batch, at each logged step",
        "train split, mean over the eval batches",
    ]
    ax = viz.plot_losses([{"step": 3, "train_loss": 2.5, "kind": "train"}]).axes[0]
    (batch,) = ax.get_lines()  # one logged batch: a point to see, at a whole step
    assert batch.get_marker() == "o" and list(batch.get_xdata()) == [3]
    assert all(tick == int(tick) for tick in ax.get_xticks())
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        viz.plot_losses(tmp_path)
    with pytest.raises(ValueError, match="nothing to plot"):
        viz.plot_losses([{"step": 0, "lr": 0.1}])
    with pytest.raises(ValueError, match=r"run\[1\] must be a metric dict with a 'step', got None"):
        viz.plot_losses([rows[0], None])
    with pytest.raises(ValueError, match=r"run\[0\] must be a metric dict with a 'step'"):
        viz.plot_losses([{"val_loss": 2.0}])
    with pytest.raises(TypeError, match="run must be a run directory or a list of metric dicts"):
        viz.plot_losses(rows[0])
    with pytest.raises(TypeError, match="floor must be a number"):
        viz.plot_losses(rows, floor="x")
    assert viz.plot_losses(rows, floor=np.float32(0.5))  # a NumPy number is a number
    with pytest.raises(ValueError, match=".png or .svg"):
        viz.plot_losses(rows, path=tmp_path / "loss.jpg")


def test_attention_maps_are_causal_distributions(tiny):
    model, tokenizer = tiny
    ids = tokenizer.encode("hello, world")
    maps = viz.attention_maps(model, ids)
    T = len(ids)
    assert len(maps) == 2 and maps[0].shape == (3, T, T)
    np.testing.assert_allclose(maps[1].sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(maps[0], k=1) == 0)  # no attention to the future


def test_plot_attention_grid_and_one_head(tiny, tmp_path):
    model, tokenizer = tiny
    ids = tokenizer.encode("hi there")
    fig = viz.plot_attention(model, ids, layer=1, tokenizer=tokenizer, path=tmp_path / "a.png")
    viz.plot_attention(model, ids, layer=1, tokenizer=tokenizer, path=tmp_path / "a.svg")
    assert_image_files(tmp_path / "a.png", tmp_path / "a.svg")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert len(heatmaps) == 3
    labels = [t.get_text() for t in heatmaps[0].get_xticklabels()]
    assert labels == ["h", "i", "␣", "t", "h", "e", "r", "e"]
    assert token_label(tokenizer, 4) == "\\x04" and token_label(None, 4) == "4"
    one = viz.plot_attention(model, ids, layer=0, head=2)
    assert [ax.get_title() for ax in one.axes if ax.images] == ["layer 0, head 2"]
    with pytest.raises(ValueError, match="layer"):
        viz.plot_attention(model, ids, layer=2)
    with pytest.raises(ValueError, match="head"):
        viz.plot_attention(model, ids, head=3)
    for bad in (1.0, True, "1"):
        with pytest.raises(TypeError, match=f"layer must be an int in 0..1, got {bad!r}"):
            viz.plot_attention(model, ids, layer=bad)
    with pytest.raises(TypeError, match="head must be an int in 0..2, got 1.5"):
        viz.plot_attention(model, ids, head=1.5)
    with pytest.raises(ValueError, match="ids must be a 1-D sequence of token ids"):
        viz.plot_attention(model, [])


def test_pca_finds_the_main_direction():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5
    t = rng.standard_normal(200)
    x = np.outer(t, direction) * 10 + rng.standard_normal((200, 3)) * 0.1 + 7.0
    points, explained = viz.pca(x)
    assert points.shape == (200, 2) and explained[0] > 0.99
    # the first coordinate is the position along the line, up to sign
    assert abs(np.corrcoef(points[:, 0], t)[0, 1]) > 0.999
    np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-9)


def test_plot_embeddings_labels_every_printable_token(tiny, tmp_path):
    model, tokenizer = tiny
    fig = viz.plot_embeddings(model, tokenizer, path=tmp_path / "e.png")
    viz.plot_embeddings(model, tokenizer, ids=[97, 98, 99, 48], path=tmp_path / "e.svg")
    assert_image_files(tmp_path / "e.png", tmp_path / "e.svg")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 95 + 2  # printable ASCII, newline and tab
    assert {"a", "Z", "0", "?", "␣", "↵"} <= set(texts)
    with pytest.raises(ValueError, match="at least 3"):
        viz.plot_embeddings(model, tokenizer, ids=[1, 2])
    with pytest.raises(ValueError, match=r"ids must be in 0..255, got \[259\]"):
        viz.plot_embeddings(model, tokenizer, ids=[0, 1, 259])
    with pytest.raises(ValueError, match="1-D list of token ids, got float64"):
        viz.plot_embeddings(model, tokenizer, ids=[0.5, 1, 2])


def test_plot_run_writes_every_picture(run_dir, tiny):
    model, tokenizer = tiny
    paths = viz.plot_run(run_dir, model, tokenizer, text="a short text to attend over")
    names = [p.name for p in paths]
    assert names == ["loss.png", "embeddings.png", "attention_layer0.png", "attention_layer1.png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)
    assert [p.name for p in viz.plot_run(run_dir)] == ["loss.png"]
    assert len(viz.plot_run(run_dir, model, tokenizer)) == 4  # attention over its own sample


def test_plot_next_token_shows_what_generate_draws_from(tiny, tmp_path):
    model, tokenizer = tiny
    fig = viz.plot_next_token(model, tokenizer, "hello wor", n=6, path=tmp_path / "n.png")
    assert (tmp_path / "n.png").read_bytes()[:8] == PNG_MAGIC
    panels = [ax for ax in fig.axes if ax.patches]
    titles = [ax.get_title() for ax in panels]
    assert titles == ["temperature=1", "temperature=0.5", "temperature=1, top_k=3",
                      "temperature=1, top_p=0.9"]  # fmt: skip
    heights = [[bar.get_height() for bar in ax.patches] for ax in panels]
    ids = np.array([tokenizer.encode("hello wor")])
    logits = model(ids)[0].data[:, -1, :]
    probs = next_token_probs(logits)[0]
    assert heights[0] == pytest.approx(sorted(probs, reverse=True)[:6])  # the likeliest, in order
    assert sum(h > 0 for h in heights[2]) == 3  # top-k keeps three tokens
    assert heights[1][0] > heights[0][0]  # a lower temperature sharpens the distribution
    assert model.training  # the model is put back in the mode it was in


def test_plot_next_token_greedy_clamped_top_k_small_vocabularies_and_bad_options(tiny):
    model, tokenizer = tiny
    logits = model(np.array([tokenizer.encode("hello wor")]))[0].data[:, -1, :]
    probs = next_token_probs(logits)[0]
    settings = [{"temperature": 0}, {"top_k": 10**6}]  # greedy; more than the 256 tokens
    fig = viz.plot_next_token(model, tokenizer, "hello wor", settings=settings, n=4)
    greedy, every = ([bar.get_height() for bar in ax.patches] for ax in fig.axes)
    assert greedy == [1.0, 0.0, 0.0, 0.0]  # all on the likeliest token, as generate picks it
    assert every == pytest.approx(sorted(probs, reverse=True)[:4])  # top_k=V keeps them all
    assert fig.axes[0].get_title() == "temperature=0 (greedy)"
    for bad, match in [({"top_p": 0.0}, "top_p"), ({"top_k": 0}, "top_k"),
                       ({"temperature": -1.0}, "temperature")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            viz.plot_next_token(model, tokenizer, "hello", settings=[bad])
    with pytest.raises(ValueError, match="prompt must encode to at least one token, got ''"):
        viz.plot_next_token(model, tokenizer, "")
    for bad in ((), {"top_k": 3}, ["top_k"]):
        with pytest.raises(ValueError, match="settings must"):
            viz.plot_next_token(model, tokenizer, "hello", settings=bad)
    chars = CharTokenizer.from_text("ab\n")
    small = GPT(GPTConfig(chars.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    bars = viz.plot_next_token(small, chars, "ab", settings=[{}]).axes[0].patches
    assert len(bars) == 3 and sum(bar.get_height() for bar in bars) == pytest.approx(1.0)


def test_save_figure_refuses_what_is_no_figure(tmp_path):
    dot = viz.draw_architecture(GPTConfig(vocab_size=11))
    with pytest.raises(TypeError, match="matplotlib Figure, got Digraph: .*viz.save_graph"):
        viz.save_figure(dot, tmp_path / "a.png")
    with pytest.raises(IsADirectoryError, match="b.png/' ends in '/': give a file name"):
        viz.save_figure(matplotlib.figure.Figure(), f"{tmp_path}/sub/b.png/")
    assert not (tmp_path / "sub").exists()  # refused before anything is made
