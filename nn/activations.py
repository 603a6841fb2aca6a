"""Activation functions as modules (PyTorch's names), for `nn.Sequential` and for models that
hold their activation as a layer. Each calls one function of `nn.functional`; none has
parameters.

    mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
"""

from nn import functional as F
from nn.module import Module


class GELU(Module):
    """GELU, elementwise: approximate='none' (exact, the default, as in PyTorch) or 'tanh'
    (GPT-2's; `model.gpt` asks for it through its config)."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class SiLU(Module):
    """x σ(x), elementwise (swish)."""

    def forward(self, x):
        return F.silu(x)


class Softmax(Module):
    """Softmax along `dim`: `nn.Softmax(dim=-1)`."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
