"""Shared test settings and hypothesis strategies.

Hypothesis runs every property test with `deadline=None` (the machines running the suite are
shared, so a single slow example is no failure) and 30 examples unless a test asks for more.

`parameters` gives the optimizer and scheduler tests a few float64 parameters, for exact
comparisons. `run_notebook` runs the notebook tests' notebooks in a Jupyter kernel of their
own: this test run's Python.

The engine tests draw *shapes* with hypothesis and *values* from a NumPy generator seeded by a
hypothesis-drawn integer: well-conditioned float64 values (away from kinks and ties) for
gradcheck, and a seed that shrinks like any other drawn integer.
"""

import json
import sys

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
from engine import Tensor

settings.register_profile("tinyllm", deadline=None, max_examples=30)
settings.load_profile("tinyllm")

seeds = st.integers(0, 2**32 - 1)

# Shapes from 0-d up to 4-D with sides 1..4: size-1 axes (which broadcast) come up often.
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def broadcast_pairs(num_shapes=2):
    """Shapes that broadcast together, either side being the bigger one, as a tuple."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=4, min_side=1, max_side=4
    ).map(lambda shapes: shapes.input_shapes)


def leaf(rng, shape, low=None, high=None):
    """A float64 leaf tensor of `shape` that requires grad.

    Standard normal values by default; uniform in [low, high) when given (e.g. positive
    values for log and sqrt, or values kept away from a kink at 0).
    """
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, size=shape)
    return Tensor(np.asarray(data, dtype=np.float64), requires_grad=True)


def parameters(seed=0, shapes=((3, 2), (4,), (2,))):
    """Float64 parameters of a few shapes, drawn from `seed`, for the optimizer tests."""
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s)) for s in shapes]


def away_from_zero(rng, shape, margin=0.1):
    """A float64 leaf whose values have |x| >= margin (for ops with a kink at 0, like relu)."""
    magnitude = rng.uniform(margin, 2.0, size=shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return Tensor(np.asarray(magnitude * sign, dtype=np.float64), requires_grad=True)


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """A function that runs a notebook file in a fresh Jupyter kernel of this test run's own
    Python (a kernel spec written to a temporary Jupyter path, so a fresh clone needs only
    `make test`), in tmp_path, and returns the notebook with its outputs. A failing cell raises
    CellExecutionError, with its traceback."""
    import nbformat
    from nbclient import NotebookClient

    spec = tmp_path / "jupyter" / "kernels" / "tinyllm-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "tinyllm test", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future paths, no warning
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))

    def run(path):
        notebook = nbformat.read(path, as_version=4)
        resources = {"metadata": {"path": tmp_path}}
        NotebookClient(
            notebook, kernel_name="tinyllm-test", timeout=120, resources=resources
        ).execute()
        return notebook

    return run
