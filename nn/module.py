"""Modules: the containers that hold a model's parameters and sub-modules, as in PyTorch.

A model is a tree of `Module`s. Assigning a `Parameter` or a `Module` to an attribute inside
`__init__` registers it, so the tree can be walked without any bookkeeping by the user:

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(2, 16)      # registered as child "fc1"
            self.fc2 = Linear(16, 2)      # registered as child "fc2"

        def forward(self, x):             # (N, 2) -> (N, 2)
            return self.fc2(self.fc1(x).relu())

    mlp = MLP()
    [name for name, _ in mlp.named_parameters()]
    # ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']

Everything is in registration order, so parameter lists, state dicts and optimizer states come
out the same on every run. A parameter shared by two modules (weight tying) is yielded once.

A buffer (`self.register_buffer("mask", tensor)`) is state that is saved but not trained: it
is in `state_dict()` and `named_buffers()`, never in `parameters()`.
"""

from engine import Tensor, module_scope
from engine.tensor_ops import as_dtype, names_the_cpu
from nn.module_state import ModuleState


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module: it requires grad unless frozen
    (`requires_grad=False`, or later `p.requires_grad_(False)`).

    Its dtype is kept as given (layers create float32; `module.to(np.float64)` converts).
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True, name=None):
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module(ModuleState):
    """Base class of every layer and model. Subclasses define `__init__` and `forward`.

    Calling `module(x)` runs `forward(x)` inside `engine.module_scope(module)`, so every op it
    creates is tagged with the module (graph pictures group ops by module that way).
    """

    def __init__(self):
        # Set through object.__setattr__: our own __setattr__ needs these dicts to exist.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        self.training = True

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        modules, buffers = self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent.discard(name)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent.discard(name)
            modules[name] = value
        elif name in params:  # None leaves the slot, as in PyTorch: a Tensor is not let in later
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}: it takes an nn.Parameter (wrap a Tensor in one) or "
                    "None"
                )
            params[name] = None
        elif name in modules and value is not None:
            raise TypeError(
                f"cannot assign {type(value).__name__} to sub-module {name!r} of "
                f"{type(self).__name__}: it takes a Module or None"
            )
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} of {type(self).__name__} takes a Tensor or None")
            buffers[name] = value
        else:
            params.pop(name, None)
            modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """Keep `tensor` (a Tensor or None) as `self.<name>`: state that moves with the module
        but is not a parameter, such as a causal mask or running statistics. It is saved in
        `state_dict()` unless `persistent=False`; optimizers never see it."""
        if not isinstance(name, str) or not name.isidentifier():
            raise KeyError(f"buffer name must be an identifier, got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"{type(self).__name__} already has a parameter or module {name!r}")
        if name not in self._buffers and hasattr(self, name):
            raise KeyError(f"{type(self).__name__} already has an attribute {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}) takes a Tensor or None")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def __call__(self, *args, **kwargs):
        with module_scope(self):
            try:
                return self.forward(*args, **kwargs)
            except (TypeError, ValueError, IndexError) as error:
                # A layer (a module without sub-modules) puts its name in front of the error
                # of the function it called: "Linear(128 -> 64): linear: input of shape ...".
                if self._modules or type(error) not in (TypeError, ValueError, IndexError):
                    raise
                raise type(error)(f"{type(self).__name__}({self.extra_repr()}): {error}") from error

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # ---- walking the tree ----------------------------------------------------------------------
    def named_children(self):
        """(name, module) for the direct sub-modules, in registration order."""
        yield from self._modules.items()

    def children(self):
        """The direct sub-modules, in registration order."""
        yield from self._modules.values()

    def named_modules(self, memo=None, prefix=""):
        """(dotted name, module) for this module ("") and every descendant, each module once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every descendant, each once (see `named_modules`)."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self):
        """(dotted name, parameter), e.g. ('h.0.attn.c_attn.weight', p); each parameter once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        """Every parameter once, in registration order: what an optimizer is given."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self):
        """(dotted name, buffer) for every buffer that is not None, each once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    yield (f"{prefix}.{name}" if prefix else name), b

    def buffers(self):
        """Every buffer once (see `named_buffers`)."""
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn):
        """Call `fn(module)` on every sub-module (children first) and then on self; return self."""
        for child in self._modules.values():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes, gradients, dtype ---------------------------------------------------------------
    def train(self, mode=True):
        """Set the `.training` flag on this module and, through their own `train`, on every
        descendant (Dropout reads it). Returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train() takes True or False, got {mode!r}")
        self.training = mode
        for child in self._modules.values():
            child.train(mode)
        return self

    def eval(self):
        """`train(False)`: dropout off; what evaluation and sampling use."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (`False`) or unfreeze every parameter of this module and its descendants, as
        for fine-tuning: `model.transformer.wte.requires_grad_(False)`. Returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient: set `.grad` to None (PyTorch's default), or with
        `set_to_none=False` fill it with zeros in place."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def to(self, dtype):
        """Convert every parameter (and its grad) and every floating buffer to the floating
        `dtype`, in place; return self. `to("cpu")` is self: the CPU is the one device."""
        if names_the_cpu(dtype):
            return self
        dtype = as_dtype("Module.to()", dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to() needs a floating dtype, got {dtype}")
        for t in [*self.parameters(), *(b for b in self.buffers() if b.dtype.kind == "f")]:
            if t.dtype != dtype:  # the same arrays where they have it already, not copies
                t.data = t.data.astype(dtype)
            if t.grad is not None and t.grad.dtype != dtype:
                t.grad = t.grad.astype(dtype)
        return self

    # ---- printing ------------------------------------------------------------------------------
    def extra_repr(self):
        """What goes between the parentheses of this module's one-line description."""
        return ""

    def __repr__(self):
        count = sum(p.size for p in self.parameters())
        head = f"{type(self).__name__}({self.extra_repr()}"
        own = self._own_parameters()
        if not self._modules:
            shapes = ", ".join(f"{n} {p.shape}" for n, p in own)
            return f"{head})" + (f"  # {shapes}: {count:,} parameters" if shapes else "")
        lines = [f"{head}  # {count:,} parameters"]
        lines += [f"  ({n}): Parameter {p.shape}" for n, p in own]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
