"""Does transformers run our exported models, and do we run its own? Checked for real.

  - ours -> HF: GPT-2-shaped models (biases or none, tanh or exact GELU, tied or not, another
    MLP width) and Llama-like ones (grouped- and multi-query, tied or not, biases or none),
    with random weights of every tensor, written by `save_pretrained` with a BPE tokenizer;
    `AutoModelForCausalLM` and `AutoTokenizer` load the directory, and the logits (in float32
    and float64), the ids, and 12 greedy tokens with the KV cache must match ours.
  - HF -> ours: `GPT2LMHeadModel` and `LlamaForCausalLM` made by transformers itself, saved in
    float32, bfloat16 and sharded, loaded by `GPT.from_pretrained` with the same logits.
transformers computes Llama's rotary angles in float32 even in a float64 model, so float64
Llama logits agree to about 1e-6, not 1e-12 (HF's own float32 rotary tables). Needs torch and
transformers, which are never dependencies:

    python -m bench.model_hf
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

import engine
import tokenizer
from model import GPT, GPTConfig

SHAPE = dict(vocab_size=300, block_size=24, n_layer=2, n_head=4, n_embd=32)
TEXT = "Once upon a time, 1234 tiny models read 56 stories.\n"
LLAMA = dict(norm="rmsnorm", pos="rope", mlp="swiglu")
OURS = {
    "gpt2": {}, "gpt2, no bias": dict(bias=False), "gpt2, exact gelu, untied":
    dict(gelu="none", tie_weights=False), "gpt2, n_inner 48": dict(n_inner=48),
    "llama, GQA, untied": dict(LLAMA, n_kv_head=2, bias=False, tie_weights=False, rope_theta=500.0),
    "llama, MQA, tied, biases": dict(LLAMA, n_kv_head=1, bias=True),
}  # fmt: skip


def randomized(model, rng):
    """Every tensor random (norm gains near 1), so that each one shows in the logits."""
    for name, p in model.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * (0.3 if p.ndim > 1 else 0.1)
        if p.ndim == 1 and ".ln_" in name and name.endswith("weight"):
            p.data += 1.0
    return model


def compare(label, ours, theirs, tolerance):
    difference, scale = np.abs(ours - theirs).max(), np.abs(theirs).max()
    ok = difference <= tolerance * scale
    verdict = "ok" if ok else "FAIL"
    print(f"  {label:<44} max |diff| {difference:.1e} of max |logit| {scale:5.1f}  {verdict}")
    return ok


def ours_to_hf(torch, transformers, tmp):
    tok = tokenizer.BPETokenizer().train(TEXT * 20, 299)
    tok.register_special_tokens({"<|endoftext|>": 299})
    ids = np.array([tok.encode(TEXT)[:20]])
    ok = True
    for label, switches in OURS.items():
        engine.manual_seed(0)
        model = randomized(GPT(GPTConfig(**SHAPE, **switches)), np.random.default_rng(1)).eval()
        model.save_pretrained(tmp / label, tokenizer=tok)
        hf_tok = transformers.AutoTokenizer.from_pretrained(tmp / label)
        same_ids = hf_tok(TEXT)["input_ids"] == tok.encode(TEXT)
        print(f"{label}: {type(hf_tok).__name__} ids identical: {same_ids}")
        ok &= same_ids
        for dtype, tolerance in (
            (np.float32, 1e-5),
            (np.float64, 1e-12 if "gpt2" in label else 1e-5),
        ):
            model.to(dtype)
            hf = transformers.AutoModelForCausalLM.from_pretrained(
                tmp / label, dtype=torch.float64 if dtype == np.float64 else torch.float32
            ).eval()
            with engine.no_grad(), torch.no_grad():
                mine, theirs = model(ids)[0].data, hf(torch.tensor(ids)).logits.numpy()
            name = f"{type(hf).__name__}, {np.dtype(dtype).name}"
            ok &= compare(name, mine.astype(np.float64), theirs, tolerance)
        greedy = model.generate(ids[:, :8], 12, temperature=0)
        with torch.no_grad():
            hf_greedy = hf.generate(torch.tensor(ids[:, :8]), max_new_tokens=12, min_new_tokens=12,
                                    do_sample=False, pad_token_id=0).numpy()  # fmt: skip
        print(f"  greedy 12 tokens, KV cache: identical: {np.array_equal(greedy, hf_greedy)}")
        ok &= np.array_equal(greedy, hf_greedy)
    return ok


def hf_to_ours(torch, transformers, tmp):
    small = dict(vocab_size=300, bos_token_id=None, eos_token_id=None)
    made = {
        "GPT2LMHeadModel": transformers.GPT2Config(
            **small, n_positions=24, n_embd=32, n_layer=2, n_head=4, activation_function="gelu",
            tie_word_embeddings=False, layer_norm_epsilon=1e-6, n_inner=40),
        "LlamaForCausalLM": transformers.LlamaConfig(
            **small, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=24,
            rope_theta=1000.0, rms_norm_eps=1e-5, attention_bias=True, mlp_bias=True),
    }  # fmt: skip
    ids = np.random.default_rng(0).integers(0, 300, size=(2, 20))
    ok = True
    for name, config in made.items():
        torch.manual_seed(0)
        hf = getattr(transformers, name)(config).eval()
        with torch.no_grad():
            for p_name, p in hf.named_parameters():  # every tensor random, as above
                p.copy_(torch.randn_like(p) * (0.3 if p.ndim > 1 else 0.1))
                if p.ndim == 1 and ("norm" in p_name or "ln_" in p_name) and "weight" in p_name:
                    p.add_(1.0)
        print(f"{name}, made by transformers:")
        ways = [("float32", torch.float32, {}), ("bfloat16", torch.bfloat16, {}),
                ("sharded", torch.float32, dict(max_shard_size="40KB"))]  # fmt: skip
        for saved, dtype, shards in ways:
            directory = tmp / f"{name}-{saved}"
            hf.to(dtype).save_pretrained(directory, **shards)
            files = len(list(directory.glob("*.safetensors")))
            reference = getattr(transformers, name).from_pretrained(directory, dtype=torch.float32)
            with engine.no_grad(), torch.no_grad():
                mine = GPT.from_pretrained(directory)(ids)[0].data
                theirs = reference.eval()(torch.tensor(ids)).logits.numpy()
            ok &= compare(f"{saved} ({files} file(s)), GPT.from_pretrained", mine, theirs, 1e-5)
    return ok


def main():
    try:
        import torch
        import transformers
    except ImportError:
        print("torch and transformers are not importable: nothing to check")
        return
    print(f"transformers {transformers.__version__}, torch {torch.__version__}\n")
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        ok = ours_to_hf(torch, transformers, Path(tmp)) & hf_to_ours(torch, transformers, Path(tmp))
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
