"""A GPT's architecture as a diagram, drawn from its config: what `model/gpt.py` builds.

Where `draw_graph` draws the ops one forward pass recorded (hundreds for a GPT), this draws the
modules in the order the data flows through them, once each, with the names of their
parameters (`transformer.wte`, `h.N.attn`, ...), their shapes and the switches of `GPTConfig`
that chose them: LayerNorm or RMSNorm, learned positions or rotary ones, GELU or SwiGLU,
grouped-query attention, a tied or separate output matrix. One block stands for all n_layer.

    >>> from model import GPTConfig
    >>> dot = draw_architecture(GPTConfig(vocab_size=54, n_layer=4))
    >>> "4 × Block" in dot.source
    True
"""

import graphviz

from model import GPTConfig
from viz import labels
from viz.graph import FONT, MODULE_FILL, OP_FILL, TENSOR_FILL


def draw_architecture(config):
    """The diagram of a GPT with this `GPTConfig` (or of this GPT): a `graphviz.Digraph`,
    top to bottom, that Jupyter shows inline and `viz.save_graph(dot, path)` saves."""
    config = getattr(config, "config", config)  # a GPT holds its config
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig or a GPT, got {type(config).__name__}")
    C, V, hs = config.n_embd, config.vocab_size, config.head_size
    nh, nkv, H = config.n_head, config.n_kv_head, config.n_inner
    dot = graphviz.Digraph(
        graph_attr={"rankdir": "TB", "fontname": FONT, "nodesep": "0.35", "ranksep": "0.3"},
        node_attr={"fontname": FONT, "fontsize": "11", "style": "filled", "penwidth": "0.8"},
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.6", "color": "#555555"},
    )
    _box(dot, "idx", "idx", ["token ids (B, T)"], TENSOR_FILL["constant"])
    _box(dot, "wte", "transformer.wte", [f"Embedding ({V}, {C})", "one row per token"])
    dot.edge("idx", "wte")
    stream = "wte"
    if config.pos == "learned":
        lines = [f"Embedding ({config.block_size}, {C})", "one row per position"]
        _box(dot, "wpe", "transformer.wpe", lines)
        _add(dot, dot, "embed", [("wte", ""), ("wpe", "")])
        stream = "embed"

    with dot.subgraph(name="cluster_block") as block:
        block.attr(label=f"transformer.h: {config.n_layer} × Block", labeljust="l")
        block.attr(style="rounded,filled", fillcolor="#f5f7fb", color="#8a9bb5", fontname=FONT)
        norm = "RMSNorm" if config.norm == "rmsnorm" else "LayerNorm"
        attention = [f"{nh} heads of {hs}: softmax(q kᵀ / √{hs} + causal mask) v"]
        if nkv != nh:
            attention.append(f"{nkv} key/value heads, each shared by {nh // nkv} (grouped-query)")
        if config.pos == "rope":
            attention.append(f"q and k rotated by position (rope, θ = {config.rope_theta:g})")
        attention.append(f"c_attn {C} → {(nh + 2 * nkv) * hs} (q | k | v), c_proj {C} → {C}")
        if config.mlp == "swiglu":
            mlp = [
                "SwiGLUMLP",
                f"c_fc {C} → 2 × {H} (gate | up)",
                "silu(gate) · up",
                f"c_proj {H} → {C}",
            ]
        else:
            gelu = "tanh form" if config.gelu == "tanh" else "exact"
            mlp = ["MLP", f"c_fc {C} → {H}", f"GELU ({gelu})", f"c_proj {H} → {C}"]
        _box(block, "ln_1", "ln_1", [f"{norm} ({C})"])
        _box(block, "attn", "attn", ["CausalSelfAttention", *attention])
        _box(block, "ln_2", "ln_2", [f"{norm} ({C})"])
        _box(block, "mlp", "mlp", mlp)
        _add(block, dot, "add_1", [("attn", ""), (stream, "residual")])
        _add(block, dot, "add_2", [("mlp", ""), ("add_1", "residual")])
    # Edges are added outside the cluster: a node an edge names inside it would join it.
    dot.edge(stream, "ln_1", label=" x (B, T, C)")
    for a, b in (("ln_1", "attn"), ("add_1", "ln_2"), ("ln_2", "mlp")):
        dot.edge(a, b)

    _box(dot, "ln_f", "transformer.ln_f", [f"{norm} ({C})"])
    dot.edge("add_2", "ln_f", label=" after the last block")
    tied = "the token embedding's matrix" if config.tie_weights else "a matrix of its own"
    _box(dot, "lm_head", "lm_head", [f"Linear {C} → {V}, no bias", tied])
    dot.edge("ln_f", "lm_head")
    if config.tie_weights:
        dot.edge("wte", "lm_head", style="dashed", color="#aaaaaa", constraint="false",
                 label=" same (V, C) matrix", fontcolor="#888888")  # fmt: skip
    _box(dot, "logits", "logits", [f"(B, T, {V})", "a score for every next token"],
         TENSOR_FILL["root"])  # fmt: skip
    dot.edge("lm_head", "logits")
    return dot


def _box(container, name, title, lines, fill=MODULE_FILL):
    label = labels.table(title, lines)
    container.node(name, label=label, shape="box", style="rounded,filled", fillcolor=fill)


def _add(container, dot, name, inputs):
    """A `+` node in `container` summing `inputs`, a list of (node, label of its arrow): a
    labelled arrow is dashed, the residual stream going round a sublayer."""
    container.node(
        name, label="+", shape="circle", fillcolor=OP_FILL, width="0.3", fixedsize="true"
    )
    for source, label in inputs:
        dot.edge(source, name, **({"style": "dashed", "label": f" {label}"} if label else {}))
