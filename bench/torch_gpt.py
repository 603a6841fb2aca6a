"""The same GPT in PyTorch, for side-by-side timings in bench/ only (PyTorch is optional and
never a dependency of tinyllm). Layer for layer the model of model/gpt.py, attending through
`F.scaled_dot_product_attention` as nanoGPT does: PyTorch eager's fastest CPU attention."""

import math

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c["n_head"]
        C, bias = c["n_embd"], c["bias"]
        self.ln_1 = nn.LayerNorm(C, bias=bias)
        self.c_attn = nn.Linear(C, 3 * C, bias=bias)
        self.attn_proj = nn.Linear(C, C, bias=bias)
        self.ln_2 = nn.LayerNorm(C, bias=bias)
        self.c_fc = nn.Linear(C, 4 * C, bias=bias)
        self.mlp_proj = nn.Linear(4 * C, C, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class TorchGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["block_size"], c["n_embd"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["n_embd"], bias=c["bias"])
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * c["n_layer"]) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, std=std)

    def logits(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def forward(self, idx, targets):
        logits = self.logits(idx)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def make_optimizer(model, c):
    """AdamW with decay on matrices only, as model/train.py's make_optimizer."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": c["weight_decay"]},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=c["lr"], betas=(c["beta1"], c["beta2"]))


# Our parameter names (model/gpt.py) -> this model's: the same tensors, renamed.
RENAMES = (
    ("transformer.h.", "h."),
    ("transformer.", ""),
    (".attn.c_attn.", ".c_attn."),
    (".attn.c_proj.", ".attn_proj."),
    (".mlp.c_fc.", ".c_fc."),
    (".mlp.c_proj.", ".mlp_proj."),
)


def load_tinyllm_weights(model, state_dict):
    """Copy a tinyllm GPT's state dict (NumPy arrays) into this model."""
    renamed = {}
    for name, array in state_dict.items():
        for old, new in RENAMES:
            name = name.replace(old, new)
        renamed[name] = torch.from_numpy(array.copy())
    model.load_state_dict(renamed, strict=True)
