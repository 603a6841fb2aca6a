"""Optimizers (AdamW, Adam, SGD), written out as their published rules. What they share
(parameter groups, `zero_grad`, `state_dict`, the checks) is `nn/optimizer.py`'s `Optimizer`;
the learning-rate schedule and the scheduler objects are in nn/lr_scheduler.py, here as
`nn.optim.lr_scheduler`, as in PyTorch.

Each `step()` updates every parameter that has a gradient, in place on `p.data`, so the model
keeps seeing its own arrays; hyperparameters may be changed between steps, by hand
(`optimizer.param_groups[0]["lr"] = lr_scheduler.cosine_with_warmup(step, ...)`) or by a
scheduler (`nn.optim.lr_scheduler.LambdaLR(optimizer, ...)`). Every hyperparameter must be a
finite number in its range (NaN and Inf are refused, naming the option and the value), in the
constructor and in a loaded state alike.
"""

import math

import numpy as np

from nn import lr_scheduler  # nn.optim.lr_scheduler, as torch.optim.lr_scheduler
from nn.optimizer import Optimizer, check_finite

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]


class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), exactly as torch.optim.AdamW.

    For each parameter p with gradient g, at its step t = 1, 2, ...:
        p ← p - lr · weight_decay · p                  decay, decoupled from the gradient
        m ← β1 m + (1 - β1) g                          running mean of g
        v ← β2 v + (1 - β2) g²                         running mean of g²
        p ← p - (lr / (1 - β1ᵗ)) · m / (sqrt(v) / sqrt(1 - β2ᵗ) + eps)
    The (1 - βᵗ) factors undo the bias of m and v towards their zero start.
    """

    _state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _check(self, group):
        super()._check(group)
        beta1, beta2 = group["betas"]
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            name = type(self).__name__
            raise ValueError(f"{name} betas must be in [0, 1), got {tuple(group['betas'])}")
        check_finite(type(self).__name__, "eps", group["eps"])

    def step(self):
        """Update every parameter whose `.grad` is not None, in place."""
        updates = []
        for group in self.param_groups:
            # Python floats, so float32 arrays stay float32 (an np.float64 would promote).
            lr, eps, decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            betas = tuple(float(b) for b in group["betas"])
            updates += [
                (p, (lr, decay, *betas, eps)) for p in group["params"] if p.grad is not None
            ]
        self._run(self._step_one, updates)

    def _step_one(self, p, lr, decay, beta1, beta2, eps):
        g = self._decay(p, lr, decay)
        self._update(p, g, lr, beta1, beta2, eps)

    def _decay(self, p, lr, decay):
        """AdamW's decay, decoupled from the gradient: p ← p - lr · decay · p. Returns g."""
        if decay:
            p.data *= 1.0 - lr * decay
        return p.grad

    def _update(self, p, g, lr, beta1, beta2, eps):
        """Adam's step for one parameter: the moments m and v of g, then p, in place."""
        state = self.state[p]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1.0 - beta2**t)
        denom += eps
        update = m / denom
        update *= lr / (1.0 - beta1**t)
        p.data -= update


class Adam(AdamW):
    """Adam (Kingma & Ba) with L2 weight decay, exactly as torch.optim.Adam. It keeps AdamW's
    state (and so its state_dict) and checks; only the decay differs.

    For each parameter p with gradient g, at its step t = 1, 2, ...:
        g ← g + weight_decay · p                       L2 decay, added to the gradient
        m ← β1 m + (1 - β1) g,   v ← β2 v + (1 - β2) g²
        p ← p - (lr / (1 - β1ᵗ)) · m / (sqrt(v) / sqrt(1 - β2ᵗ) + eps)
    Where AdamW shrinks p directly, Adam's decay goes through m and v, so a weight with large
    gradients is decayed less: the difference Loshchilov & Hutter's paper is about.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _decay(self, p, lr, decay):
        """Adam's L2 decay, added to the gradient: returns g + decay · p."""
        return p.grad + decay * p.data if decay else p.grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay, as torch.optim.SGD.

    For each parameter p with gradient g:
        d ← g + weight_decay · p                       (L2 decay, coupled to the gradient)
        b ← d on the first step, then momentum · b + (1 - dampening) · d   (momentum > 0 only)
        d ← d + momentum · b with nesterov, else b     (momentum > 0 only)
        p ← p - lr · d
    Nesterov's momentum looks one step ahead: it needs momentum > 0 and no dampening, as in
    PyTorch. lr defaults to 1e-3, as in PyTorch since 2.2 (before, it had to be given).
    """

    _state_names = ("momentum_buffer",)

    def __init__(
        self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _check(self, group):
        super()._check(group)
        check_finite("SGD", "momentum", group["momentum"])
        check_finite("SGD", "dampening", group["dampening"])
        if not isinstance(group["nesterov"], bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening 0, got momentum "
                f"{group['momentum']} and dampening {group['dampening']}"
            )

    def step(self):
        """Update every parameter whose `.grad` is not None, in place."""
        updates = []
        for group in self.param_groups:
            options = tuple(float(group[k]) for k in ("lr", "momentum", "dampening"))
            options += (float(group["weight_decay"]), group["nesterov"])
            updates += [(p, options) for p in group["params"] if p.grad is not None]
        self._run(self._step_one, updates)

    def _step_one(self, p, lr, momentum, dampening, decay, nesterov):
        d = p.grad + decay * p.data if decay else p.grad
        if momentum:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = d.copy()
            else:
                state["momentum_buffer"] *= momentum
                state["momentum_buffer"] += (1.0 - dampening) * d if dampening else d
            d = d + momentum * state["momentum_buffer"] if nesterov else state["momentum_buffer"]
        p.data -= lr * d
