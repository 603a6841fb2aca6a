"""Neural-net building blocks on the engine, with PyTorch's names and semantics.

    import nn
    model = nn.Linear(128, 64)            # layers: nn/layers.py, module system: nn/module.py
    y = nn.functional.gelu(model(x))      # stateless functions: nn/functional.py
    opt = nn.optim.AdamW(model.parameters(), lr=3e-4)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)

The fused ops behind the functions (forward and backward derived side by side) live in
nn/fused.py, nn/attention.py and nn/loss.py; initialisers in nn/init.py.
"""

from nn import functional, init, optim, utils
from nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, RMSNorm
from nn.module import Module, ModuleList, Parameter

__all__ = [
    "GELU",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleList",
    "Parameter",
    "RMSNorm",
    "ReLU",
    "functional",
    "init",
    "optim",
    "utils",
]
