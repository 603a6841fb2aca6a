"""One seedable random generator for the whole project, so a run is reproducible from a seed.

Parameter initialisation, dropout and batch sampling all draw from `engine.random.generator()`;
`engine.manual_seed(s)` resets it, and its state can be saved and restored with a checkpoint.
"""

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reset the shared generator to a fresh state determined by `seed` (an int >= 0)."""
    global _generator
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))


def generator():
    """The shared `np.random.Generator`."""
    return _generator


def get_rng_state():
    """The generator's state as a JSON-serialisable dict."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state
