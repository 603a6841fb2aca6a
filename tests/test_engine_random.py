"""Random draws: `Generator`, the shared generator, `generator=`, and the random factories.

The expected values never come from the code under test: a seed's draws are checked against
NumPy's own `default_rng(seed)`, and a factory's frequencies against the probabilities its
weights stand for, with a chi-square bound (the draws are seeded, so a test cannot flake, and
a wrong distribution is thousands over the bound at these sample sizes).
"""

import doctest
import json

import numpy as np
import pytest

import engine
from engine import Tensor
from engine.factories import (
    multinomial,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
)
from engine.random import Generator, default_generator


def chi_square(samples, probs):
    """Pearson's statistic for the integer `samples` against category probabilities `probs`;
    a category of probability 0 must never be drawn."""
    probs = np.asarray(probs, dtype=np.float64)
    counts = np.bincount(np.ravel(samples), minlength=len(probs))
    assert len(counts) == len(probs) and np.all(counts[probs == 0] == 0)
    expected = probs * counts.sum()
    drawn = probs > 0
    return float(((counts[drawn] - expected[drawn]) ** 2 / expected[drawn]).sum())


# Five categories or fewer: a statistic over 30 has a chance below 1e-5 for the right weights.
CHI_SQUARE_BOUND = 30


# ---- Generator and the shared generator ------------------------------------------------------


def test_the_module_docstring_runs():
    assert doctest.testmod(engine.random).failed == 0


def test_manual_seed_returns_the_generator_and_draws_numpys_stream_for_the_seed():
    g = Generator()
    assert g.initial_seed() == 0  # a fresh one, as the shared one at import
    np.testing.assert_array_equal(g.rng.random(4), np.random.default_rng(0).random(4))
    assert g.manual_seed(2147483647) is g and g.initial_seed() == 2147483647
    np.testing.assert_array_equal(g.rng.random(4), np.random.default_rng(2147483647).random(4))
    assert Generator().manual_seed(np.int64(7)).initial_seed() == 7


def test_get_state_and_set_state_round_trip_through_json():
    g = Generator().manual_seed(5)
    g.rng.random(3)  # somewhere inside the stream, not at its start
    state = json.loads(json.dumps(g.get_state()))
    ahead = g.rng.random(6)
    assert g.set_state(state) is g
    np.testing.assert_array_equal(g.rng.random(6), ahead)
    other = Generator().set_state(state)  # a place moves between generators
    np.testing.assert_array_equal(other.rng.random(6), ahead)
    assert other.initial_seed() == 0  # a state is a place in a stream, not a seed


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None])
def test_a_bad_seed_is_refused_naming_it(seed):
    with pytest.raises(ValueError, match="non-negative int"):
        Generator().manual_seed(seed)
    with pytest.raises(ValueError, match="non-negative int"):
        engine.random.manual_seed(seed)


def test_the_shared_generator_is_default_generator():
    assert engine.random.manual_seed(11) is None  # a notebook line of it prints nothing
    assert default_generator.initial_seed() == 11
    rng = engine.random.generator()
    assert rng is default_generator.rng
    np.testing.assert_array_equal(rng.random(3), np.random.default_rng(11).random(3))
    engine.random.manual_seed(12)  # reseeds in place: a generator() held on to follows
    assert engine.random.generator() is rng
    np.testing.assert_array_equal(rng.random(3), np.random.default_rng(12).random(3))


def test_get_rng_state_is_numpys_pcg64_state_and_set_rng_state_restores_it():
    engine.random.manual_seed(3)
    state = engine.random.get_rng_state()
    assert state == np.random.default_rng(3).bit_generator.state
    first = engine.random.generator().random(5)
    engine.random.set_rng_state(json.loads(json.dumps(state)))
    np.testing.assert_array_equal(engine.random.generator().random(5), first)
    assert engine.random.get_rng_state() == default_generator.get_state()


# ---- generator= ------------------------------------------------------------------------------

WEIGHTS = np.array([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0]])

# Every random factory, as a call taking the `generator=`.
DRAWS = {
    "rand": lambda g: rand(2, 3, generator=g),
    "randn": lambda g: randn((2, 3), generator=g),
    "randint": lambda g: randint(0, 1000, (2, 3), generator=g),
    "rand_like": lambda g: rand_like(np.zeros((2, 3)), generator=g),
    "randn_like": lambda g: randn_like(np.zeros((2, 3)), generator=g),
    "randint_like": lambda g: randint_like(np.zeros((2, 3)), 1000, generator=g),
    "multinomial": lambda g: multinomial(WEIGHTS, 50, replacement=True, generator=g),
    "multinomial without replacement": lambda g: multinomial(np.ones((4, 50)), 10, generator=g),
}


@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
def test_a_seed_repeats_its_draws_and_another_seed_gives_others(draw):
    first = draw(Generator().manual_seed(1)).data
    np.testing.assert_array_equal(draw(Generator().manual_seed(1)).data, first)
    assert not np.array_equal(draw(Generator().manual_seed(2)).data, first)


@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
def test_generator_draws_leave_the_shared_generator_where_it_was(draw):
    engine.random.manual_seed(0)
    state = engine.random.get_rng_state()
    g = Generator().manual_seed(0)
    before = g.get_state()
    draw(g)
    assert engine.random.get_rng_state() == state and g.get_state() != before


@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
def test_without_generator_the_draws_come_from_the_seeded_shared_one(draw):
    engine.random.manual_seed(4)
    first = draw(None).data
    assert engine.random.get_rng_state() != np.random.default_rng(4).bit_generator.state
    engine.random.manual_seed(4)
    np.testing.assert_array_equal(draw(None).data, first)
    np.testing.assert_array_equal(draw(Generator().manual_seed(4)).data, first)


def test_a_numpy_generator_is_no_generator():
    with pytest.raises(TypeError, match="engine.random.Generator, got Generator"):
        rand(2, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="got int"):
        multinomial([1.0, 1.0], 1, generator=0)


# ---- rand, randn and their _likes ------------------------------------------------------------


@pytest.mark.parametrize("factory", [rand, randn])
def test_rand_and_randn_shapes_and_dtypes(factory):
    g = Generator().manual_seed(0)
    assert factory(2, 3, generator=g).shape == factory((2, 3), generator=g).shape == (2, 3)
    assert factory(generator=g).shape == () and factory(0, 4, generator=g).shape == (0, 4)
    t = factory(4, generator=g)
    assert t.dtype == np.float32 and not t.requires_grad
    t = factory(4, dtype=np.float64, requires_grad=True, generator=g)
    assert t.dtype == np.float64 and t.requires_grad
    with pytest.raises(TypeError, match=f"{factory.__name__}\\(\\) makes floating-point.*int64"):
        factory(4, dtype=np.int64)


def test_rand_is_uniform_in_0_1_and_randn_standard_normal():
    g = Generator().manual_seed(0)
    u, n = rand(20000, generator=g).data, randn(20000, generator=g).data
    assert u.min() >= 0 and u.max() < 1
    assert chi_square(np.floor(u * 5).astype(int), [0.2] * 5) < CHI_SQUARE_BOUND
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    assert abs(np.mean(np.abs(n) < 1) - 0.6827) < 0.02  # within one standard deviation


@pytest.mark.parametrize("factory", [rand_like, randn_like])
def test_rand_like_and_randn_like_take_the_shape_and_dtype(factory):
    g = Generator().manual_seed(0)
    like = factory(Tensor(np.zeros((2, 3), dtype=np.float64)), generator=g)
    assert like.shape == (2, 3) and like.dtype == np.float64 and not like.requires_grad
    like = factory(engine.zeros(4), np.float16, requires_grad=True, generator=g)
    assert like.shape == (4,) and like.dtype == np.float16 and like.requires_grad
    assert factory(np.zeros(3, dtype=np.int64), dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match=f"{factory.__name__}\\(\\) makes floating.*int64"):
        factory(np.zeros(3, dtype=np.int64))


# ---- randint ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "low", "high", "shape"),
    [
        (lambda g: randint(3, 5, (3,), generator=g), 3, 5, (3,)),  # torch's examples
        (lambda g: randint(10, (2, 2), generator=g), 0, 10, (2, 2)),
        (lambda g: randint(3, 10, (2, 2), generator=g), 3, 10, (2, 2)),
        (lambda g: randint(10, size=(4,), generator=g), 0, 10, (4,)),
        (lambda g: randint(-2, 2, size=[3, 1], generator=g), -2, 2, (3, 1)),
        (lambda g: randint(low=1, high=4, size=(5,), generator=g), 1, 4, (5,)),
        (lambda g: randint(high=4, size=(), generator=g), 0, 4, ()),
    ],
)
def test_randint_call_forms(call, low, high, shape):
    t = call(Generator().manual_seed(0))
    assert t.shape == shape and t.dtype == np.int64 and not t.requires_grad
    assert np.all((low <= t.data) & (t.data < high))


def test_randint_is_uniform_over_low_to_high_minus_1():
    samples = randint(2, 7, (20000,), generator=Generator().manual_seed(0)).data
    assert chi_square(samples, [0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]) < CHI_SQUARE_BOUND


def test_randint_dtypes():
    g = Generator().manual_seed(0)
    assert randint(0, 100, (3,), dtype=np.int32, generator=g).dtype == np.int32
    assert randint(0, 256, (3,), dtype=np.uint8, generator=g).dtype == np.uint8
    assert randint(2, (3,), dtype=np.bool_, generator=g).dtype == np.bool_
    floats = randint(0, 5, (50,), dtype=np.float32, requires_grad=True, generator=g)
    assert floats.dtype == np.float32 and floats.requires_grad
    assert np.all(floats.data == np.round(floats.data))
    with pytest.raises(TypeError, match="floating"):
        randint(0, 5, (3,), requires_grad=True)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((10, 3), {}, TypeError, r"size as a tuple, got randint\(10, 3\)"),
        ((0, 10), {}, TypeError, r"got randint\(0, 10\): give it, as randint\(0, 10, \(n,\)\)"),
        ((), {"low": 0, "high": 10}, TypeError, r"size as a tuple, got randint\(0, 10\)"),
        ((0, 10, 3), {}, TypeError, r"size as a tuple.*got 3"),
        ((10,), {}, TypeError, r"size as a tuple.*got None"),
        ((5, 5, (2,)), {}, ValueError, r"low < high, got low=5, high=5"),
        ((0, (2,)), {}, ValueError, r"low < high, got low=0, high=0"),
        ((0.5, 3, (2,)), {}, TypeError, r"low must be an int, got 0.5"),
        ((0, 3.0, (2,)), {}, TypeError, r"high must be an int, got 3.0"),
        ((0, 300, (2,)), {"dtype": np.uint8}, ValueError, r"\[0, 300\) does not fit.*uint8"),
        ((-1, 2, (2,)), {"dtype": np.bool_}, ValueError, r"does not fit in dtype bool"),
    ],
)
def test_randint_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        randint(*args, **kwargs)


def test_randint_like_takes_the_shape_and_dtype():
    g = Generator().manual_seed(0)
    like = randint_like(engine.zeros(2, 3), 5, generator=g)  # float32, as torch's
    assert like.shape == (2, 3) and like.dtype == np.float32
    assert np.all(np.isin(like.data, [0, 1, 2, 3, 4]))
    like = randint_like(np.zeros(40, dtype=np.int32), 3, 6, generator=g)
    assert like.dtype == np.int32 and np.all((like.data >= 3) & (like.data < 6))
    like = randint_like(np.zeros(4), high=3, dtype=np.int64, generator=g)
    assert like.dtype == np.int64 and like.shape == (4,)
    with pytest.raises(ValueError, match="randint_like\\(\\): needs low < high"):
        randint_like(np.zeros(2), 4, 2)


# ---- multinomial -----------------------------------------------------------------------------


def test_multinomial_shapes_and_dtype():
    g = Generator().manual_seed(0)
    weights = Tensor(np.ones((3, 5), dtype=np.float32), requires_grad=True)
    samples = multinomial(weights, 4, generator=g)
    assert samples.shape == (3, 4) and samples.dtype == np.int64 and not samples.requires_grad
    assert multinomial([0.5, 0.5], 1, generator=g).shape == (1,)
    assert multinomial(np.ones(5), 12, replacement=True, generator=g).shape == (12,)
    assert multinomial(np.ones((0, 5)), 2, generator=g).shape == (0, 2)
    assert multinomial(np.array([1, 3]), 2, generator=g).shape == (2,)  # integer counts too


def test_multinomial_matches_torchs_documented_example():
    g = Generator().manual_seed(0)
    weights = np.array([0, 10, 3, 0], dtype=np.float32)
    assert sorted(multinomial(weights, 2, generator=g).tolist()) == [1, 2]
    assert set(multinomial(weights, 4, replacement=True, generator=g).tolist()) <= {1, 2}


def test_multinomial_with_replacement_draws_each_row_in_proportion_to_its_weights():
    weights = np.array([[1.0, 2.0, 3.0, 0.0, 4.0], [0.0, 0.0, 5.0, 5.0, 0.0]])
    samples = multinomial(weights, 20000, replacement=True, generator=Generator().manual_seed(0))
    for row, w in zip(samples.data, weights, strict=True):
        assert chi_square(row, w / w.sum()) < CHI_SQUARE_BOUND


def test_multinomial_without_replacement_draws_distinct_samples_one_after_another():
    # The first sample follows the weights; the second, given the first was i, follows the
    # weights left: P(second = j) = sum over i != j of p_i p_j / (1 - p_i).
    p = np.array([0.1, 0.2, 0.3, 0.4])
    samples = multinomial(np.tile(p * 7, (20000, 1)), 2, generator=Generator().manual_seed(0))
    assert samples.shape == (20000, 2) and np.all(samples.data[:, 0] != samples.data[:, 1])
    assert chi_square(samples.data[:, 0], p) < CHI_SQUARE_BOUND
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    assert chi_square(samples.data[:, 1], second) < CHI_SQUARE_BOUND


def test_multinomial_without_replacement_never_draws_a_zero_weight():
    g = Generator().manual_seed(0)
    samples = multinomial(np.tile([0.0, 1.0, 1e-3, 0.0, 9.0], (200, 1)), 3, generator=g).data
    assert all(sorted(row) == [1, 2, 4] for row in samples.tolist())
    samples = multinomial(np.ones((50, 6)), 6, generator=g).data  # all of them: permutations
    np.testing.assert_array_equal(np.sort(samples, axis=1), np.tile(np.arange(6), (50, 1)))


def test_multinomial_takes_huge_and_tiny_weights():
    g = Generator().manual_seed(0)
    for scale in (5e307, 1e-310):  # sums past the largest float; weights all but denormal
        samples = multinomial(np.array([1.0, 3.0]) * scale, 20000, True, generator=g).data
        assert chi_square(samples, [0.25, 0.75]) < CHI_SQUARE_BOUND


@pytest.mark.parametrize(
    ("weights", "num_samples", "replacement", "error", "match"),
    [
        ([1.0, -0.5], 1, True, ValueError, r"must be >= 0, got -0.5"),
        ([1.0, np.nan], 1, True, ValueError, r"finite, got NaN or inf"),
        ([[1.0, 1.0], [np.inf, 1.0]], 1, False, ValueError, r"finite, got NaN or inf"),
        ([0.0, 0.0], 1, True, ValueError, r"row 0 of the weights sums to 0"),
        ([[1.0, 2.0], [0.0, 0.0]], 1, False, ValueError, r"row 1 of the weights sums to 0"),
        ([1.0, 2.0], 0, True, ValueError, r"num_samples must be >= 1, got 0"),
        ([1.0, 2.0], -3, False, ValueError, r"num_samples must be >= 1, got -3"),
        ([1.0, 2.0], 1.0, False, TypeError, r"num_samples must be an int, got 1.0"),
        ([1.0, 2.0], 3, False, ValueError, r"3 samples without replacement.* 2 non-zero.* of 2"),
        ([[1, 1, 1], [0, 1, 1]], 3, False, ValueError, r"row 1 has 2 non-zero weights of 3"),
        (np.float32(1.0), 1, True, ValueError, r"shape \(n,\) or \(B, n\), got \(\)"),
        (np.ones((2, 2, 2)), 1, True, ValueError, r"shape \(n,\) or \(B, n\), got \(2, 2, 2\)"),
        (np.array(["a", "b"]), 1, True, TypeError, r"numeric weights, got dtype <U1"),
    ],
)
def test_multinomial_errors(weights, num_samples, replacement, error, match):
    with pytest.raises(error, match=match):
        multinomial(weights, num_samples, replacement)
