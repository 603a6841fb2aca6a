"""Hugging Face's GPT-2 and Llama written from their specification, for the tests.

- `write_safetensors`: the file format itself (an 8-byte little-endian header length, a JSON
  header giving each tensor's dtype, shape and byte range, then the raw bytes), so that the
  files the tests read were not made by the code under test, nor by the safetensors library.
- `gpt2_tensors` / `llama_tensors`: random weights under the formats' names and shapes
  (`GPT2LMHeadModel`'s Conv1D matrices stored (in, out); `LlamaForCausalLM`'s q, k, v, gate,
  up and down projections apart, (out, in)).
- `gpt2_forward` / `llama_forward`: each model's logits in plain float64 NumPy, on those
  tensors and their names, as picoGPT writes GPT-2 and as HF's modeling files compute Llama
  (`rotate_half` rotary, `repeat_kv` for grouped-query attention). Nothing here uses tinyllm.
"""

import json
import math
import struct

import numpy as np

STORED = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def representable(array, dtype):
    """`array` rounded to what `dtype` ("F32", "F16", "BF16", "F64") stores, as float64."""
    if dtype == "BF16":  # bfloat16: the top 16 bits of a float32 (rounded down here)
        bits = np.asarray(array, "<f4").view("<u4") & np.uint32(0xFFFF0000)
        return bits.view("<f4").astype(np.float64)
    return np.asarray(array, STORED[dtype]).astype(np.float64)


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write {name: array} (each representable in `dtype`) as a safetensors file."""
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.asarray(array)
        if dtype == "BF16":
            raw = (array.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
        else:
            raw = array.astype(STORED[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape)}
        header[name]["data_offsets"] = [offset, offset + len(raw)]
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata or {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def _draw(rng, dtype):
    def draw(*shape, scale=0.3, offset=0.0):
        return representable(offset + scale * rng.standard_normal(shape), dtype)

    return draw


def gpt2_tensors(rng, V, T, C, L, H, tied=True, dtype="F32"):
    """GPT2LMHeadModel's tensors without the `transformer.` prefix (lm_head.weight if untied)."""
    w, t = _draw(rng, dtype), {}
    t["wte.weight"], t["wpe.weight"] = w(V, C), w(T, C)
    for i in range(L):
        h = f"h.{i}."
        for norm in ("ln_1", "ln_2"):
            t[f"{h}{norm}.weight"], t[f"{h}{norm}.bias"] = w(C, scale=0.1, offset=1.0), w(C)
        for layer, n_in, n_out in [("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C),
                                   ("mlp.c_fc", C, H), ("mlp.c_proj", H, C)]:  # fmt: skip
            t[f"{h}{layer}.weight"], t[f"{h}{layer}.bias"] = w(n_in, n_out), w(n_out)
    t["ln_f.weight"], t["ln_f.bias"] = w(C, scale=0.1, offset=1.0), w(C)
    if not tied:
        t["lm_head.weight"] = w(V, C)
    return t


def llama_tensors(rng, V, C, L, n_head, n_kv_head, H, tied=False, bias=False, dtype="F32"):
    """LlamaForCausalLM's tensors, under their full names."""
    w, t, hs = _draw(rng, dtype), {}, C // n_head
    t["model.embed_tokens.weight"] = w(V, C)
    for i in range(L):
        h = f"model.layers.{i}."
        t[h + "input_layernorm.weight"] = w(C, scale=0.1, offset=1.0)
        t[h + "post_attention_layernorm.weight"] = w(C, scale=0.1, offset=1.0)
        for name, n_out, n_in in [("self_attn.q_proj", n_head * hs, C),
                                  ("self_attn.k_proj", n_kv_head * hs, C),
                                  ("self_attn.v_proj", n_kv_head * hs, C),
                                  ("self_attn.o_proj", C, n_head * hs),
                                  ("mlp.gate_proj", H, C), ("mlp.up_proj", H, C),
                                  ("mlp.down_proj", C, H)]:  # fmt: skip
            t[f"{h}{name}.weight"] = w(n_out, n_in)
            if bias:
                t[f"{h}{name}.bias"] = w(n_out)
    t["model.norm.weight"] = w(C, scale=0.1, offset=1.0)
    if not tied:
        t["lm_head.weight"] = w(V, C)
    return t


def causal_attention(q, k, v):
    """q (nh, T, hs), k and v (nh, T, hs) -> (T, nh * hs), each position seeing the past."""
    T, hs = q.shape[1], q.shape[2]
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(hs) + np.triu(np.full((T, T), -np.inf), 1)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return (weights @ v).transpose(1, 0, 2).reshape(T, -1)


def gpt2_forward(t, ids, n_head, eps=1e-5, activation="gelu_new"):
    """Logits (T, V) of GPT-2 for one sequence `ids` (T,), from its un-prefixed tensors."""

    def layer_norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * t[name + ".weight"] + t[name + ".bias"]

    def conv1d(x, name):  # HF's Conv1D: x @ W + b, W stored (in, out)
        return x @ t[name + ".weight"] + t[name + ".bias"]

    def gelu(x):
        if activation == "gelu":
            return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    T = len(ids)
    x = t["wte.weight"][ids] + t["wpe.weight"][:T]
    L = len({name.split(".")[1] for name in t if name.startswith("h.")})
    for i in range(L):
        h = f"h.{i}."
        q, k, v = np.split(conv1d(layer_norm(x, h + "ln_1"), h + "attn.c_attn"), 3, axis=-1)
        q, k, v = (a.reshape(T, n_head, -1).transpose(1, 0, 2) for a in (q, k, v))
        x = x + conv1d(causal_attention(q, k, v), h + "attn.c_proj")
        m = gelu(conv1d(layer_norm(x, h + "ln_2"), h + "mlp.c_fc"))
        x = x + conv1d(m, h + "mlp.c_proj")
    head = t.get("lm_head.weight", t["wte.weight"])
    return layer_norm(x, "ln_f") @ head.T


def llama_forward(t, ids, n_head, n_kv_head, eps=1e-6, theta=10000.0):
    """Logits (T, V) of Llama for one sequence `ids` (T,), from its tensors."""

    def rms_norm(x, name):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * t[name]

    def linear(x, name):  # nn.Linear: x @ W.T + b, W stored (out, in)
        return x @ t[name + ".weight"].T + t.get(name + ".bias", 0.0)

    def rotary(x):  # (nh, T, hs): channel i turns with channel i + hs/2 (rotate_half)
        hs = x.shape[-1]
        inv_freq = 1.0 / theta ** (np.arange(0, hs, 2) / hs)
        angles = np.outer(np.arange(x.shape[1]), inv_freq)
        cos, sin = (
            np.cos(np.concatenate([angles] * 2, -1)),
            np.sin(np.concatenate([angles] * 2, -1)),
        )
        rotated = np.concatenate([-x[..., hs // 2 :], x[..., : hs // 2]], axis=-1)
        return x * cos + rotated * sin

    T = len(ids)
    x = t["model.embed_tokens.weight"][ids]
    L = len({name.split(".")[2] for name in t if name.startswith("model.layers.")})
    for i in range(L):
        h = f"model.layers.{i}."
        a = rms_norm(x, h + "input_layernorm.weight")
        q, k, v = (linear(a, f"{h}self_attn.{p}_proj").reshape(T, -1, x.shape[1] // n_head)
                   for p in "qkv")  # fmt: skip
        q, k, v = (z.transpose(1, 0, 2) for z in (q, k, v))
        k, v = (np.repeat(z, n_head // n_kv_head, axis=0) for z in (rotary(k), v))  # repeat_kv
        x = x + linear(causal_attention(rotary(q), k, v), h + "self_attn.o_proj")
        m = rms_norm(x, h + "post_attention_layernorm.weight")
        gate = linear(m, h + "mlp.gate_proj")
        x = x + linear(
            gate / (1 + np.exp(-gate)) * linear(m, h + "mlp.up_proj"), h + "mlp.down_proj"
        )
    head = t.get("lm_head.weight", t["model.embed_tokens.weight"])
    return rms_norm(x, "model.norm.weight") @ head.T
