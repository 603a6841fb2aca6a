"""Seedable random generators, so a run is reproducible from a seed.

A `Generator` is PyTorch's `torch.Generator`: a stream of random numbers that starts over at
`g.manual_seed(s)` and whose place can be saved (`g.get_state()`) and restored
(`g.set_state(state)`). Hand one to a factory as `generator=` and only it advances:

>>> g = Generator().manual_seed(2147483647)   # makemore's seed
>>> state = g.get_state()
>>> first = g.rng.random()
>>> g.set_state(state).rng.random() == first  # back to the same place, the same draw
True

Everything else draws from one shared generator, `default_generator`: parameter
initialisation, dropout, batch sampling and every factory not given `generator=`.
`engine.manual_seed(s)` reseeds it, and `get_rng_state` / `set_rng_state` save and restore it
with a checkpoint. `engine.random.generator()` is the NumPy generator underneath it, which
engine code draws from directly (`generator().normal(0, 0.02, size=shape)`).
"""

import numpy as np


class Generator:
    """A seedable stream of random numbers, as `torch.Generator`; a fresh one starts at seed 0.

    `rng` is the `np.random.Generator` that makes the numbers. It stays the same object for the
    generator's life: `manual_seed` and `set_state` move it to a new place in place.
    """

    def __init__(self):
        self.rng = np.random.default_rng(0)
        self._seed = 0

    def manual_seed(self, seed):
        """Start over at the stream that `seed` (an int >= 0) picks; returns the generator, so
        `g = Generator().manual_seed(42)` works as in PyTorch."""
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        # The state `np.random.default_rng(seed)` starts at, so a seed draws what it always has.
        self.rng.bit_generator.state = np.random.PCG64(int(seed)).state
        self._seed = int(seed)
        return self

    def initial_seed(self):
        """The seed last given to `manual_seed` (0 if none): `set_state` moves to a place in a
        stream, not to a seed, so it leaves this as it was."""
        return self._seed

    def get_state(self):
        """Where the stream is, as a JSON-serialisable dict (NumPy's PCG64 state)."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        """Go back to a place returned by `get_state`; returns the generator."""
        self.rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed):
    """Reseed the shared generator with `seed` (an int >= 0). Unlike `torch.manual_seed`, it
    returns nothing, so a notebook line of it prints nothing (`default_generator` is there)."""
    default_generator.manual_seed(seed)


def generator():
    """The shared generator's `np.random.Generator`."""
    return default_generator.rng


def get_rng_state():
    """The shared generator's state as a JSON-serialisable dict."""
    return default_generator.get_state()


def set_rng_state(state):
    """Restore a state returned by `get_rng_state`."""
    default_generator.set_state(state)
