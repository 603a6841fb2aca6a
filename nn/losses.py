"""Losses as modules, as in PyTorch: `criterion = nn.CrossEntropyLoss(); loss = criterion(logits,
targets)`. Each holds its options and calls one function of `nn.functional`."""

from nn import checks
from nn import functional as F
from nn.module import Module


class CrossEntropyLoss(Module):
    """`F.cross_entropy(logits, targets, ...)` with these options: logits (..., V), integer
    targets (...)."""

    def __init__(self, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        checks.reduction("CrossEntropyLoss", reduction)
        checks.probability("CrossEntropyLoss label_smoothing", label_smoothing)
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, logits, targets):
        return F.cross_entropy(
            logits, targets, self.ignore_index, self.reduction, self.label_smoothing
        )

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(Module):
    """`F.mse_loss(input, target, reduction)`: the mean (or sum, or each) squared error."""

    def __init__(self, reduction="mean"):
        super().__init__()
        checks.reduction("MSELoss", reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
