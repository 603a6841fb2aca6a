"""Neural-net building blocks on the engine, with PyTorch's names and semantics.

    import nn
    model = nn.Linear(128, 64)            # layers: nn/layers.py, module system: nn/module.py
    y = nn.functional.gelu(model(x))      # stateless functions: nn/functional.py
    opt = nn.optim.AdamW(model.parameters(), lr=3e-4)
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)

Every function's math is written from engine primitives in nn/functional.py (the
normalisations' in nn/normalization.py); the fused kernels that replace pieces of it (forward
and backward derived side by side) live in nn/kernels/, and `nn.use_fused(False)` switches
them off. Containers are in nn/containers.py, activation modules in nn/activations.py, loss
modules in nn/losses.py, the argument checks in nn/checks.py, attention's masks and grouped
heads made ready in nn/attention_inputs.py, initialisers in nn/init.py, learning-rate
schedulers in nn/lr_scheduler.py (also `nn.optim.lr_scheduler`).
"""

from nn import functional, init, kernels, optim, utils
from nn.activations import GELU, ReLU, Sigmoid, SiLU, Softmax, Tanh
from nn.containers import Identity, ModuleDict, ModuleList, Sequential
from nn.kernels import use_fused
from nn.layers import BatchNorm1d, Dropout, Embedding, LayerNorm, Linear, RMSNorm
from nn.losses import CrossEntropyLoss, MSELoss
from nn.module import Module, Parameter

__all__ = [
    "GELU",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Identity",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "RMSNorm",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "kernels",
    "optim",
    "use_fused",
    "utils",
]
