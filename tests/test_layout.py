"""The layout promises of the code base that a test can hold."""

import importlib
import inspect
import pkgutil

import engine
import nn


def classes_defined_in(package):
    """(qualified module name, class name) for every class defined in the package's modules."""
    found = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                found.append((module.__name__, name))
    return found


def test_no_two_classes_in_engine_and_nn_share_a_name():
    found = classes_defined_in(engine) + classes_defined_in(nn)
    names = [name for _, name in found]
    assert len(found) > 40  # the walk really saw the ops, layers and kernels
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, [(module, name) for module, name in found if name in duplicates]


def test_every_kernel_names_the_reference_it_replaces():
    import nn.functional as F

    kernels = [
        obj
        for obj in vars(nn.kernels).values()
        if inspect.isclass(obj) and issubclass(obj, engine.Function)
    ]
    assert len(kernels) >= 6
    for kernel in kernels:
        replaces = [name for name in dir(F) if f"`F.{name}`" in (kernel.__doc__ or "")]
        assert replaces or "FusedAttention" in kernel.__doc__, kernel.__name__
        assert kernel.rules, kernel.__name__  # its derivative, written as math
