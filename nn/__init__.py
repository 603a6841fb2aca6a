"""Neural-net building blocks on the engine, with PyTorch's names and semantics.

    import nn
    model = nn.Linear(128, 64)            # layers: nn/layers.py, module system: nn/module.py
    y = nn.functional.gelu(model(x))      # stateless functions: nn/functional.py
    opt = nn.optim.AdamW(model.parameters(), lr=3e-4)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)

Every function's math is written from engine primitives in nn/functional.py; the fused
kernels that replace pieces of it (forward and backward derived side by side) live in
nn/kernels/, and `nn.use_fused(False)` switches them off. Initialisers are in nn/init.py.
"""

from nn import functional, init, kernels, optim, utils
from nn.containers import ModuleDict, ModuleList
from nn.kernels import use_fused
from nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU, RMSNorm
from nn.module import Module, Parameter

__all__ = [
    "GELU",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "RMSNorm",
    "ReLU",
    "functional",
    "init",
    "kernels",
    "optim",
    "use_fused",
    "utils",
]
