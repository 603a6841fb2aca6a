"""viz.check_graph: right ops stay green at any scale, and a kink is told apart from a bug."""

import numpy as np
import pytest

import nn
import viz
from engine import Function, Tensor
from viz.check import COLOURS, GOOD, KINK, SUSPECT


class TripledSquare(Function):
    """x² whose backward says 3x instead of 2x: relative error |3 - 2| / 3 = 1/3 anywhere."""

    rules = ("dX = 3 G X",)

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (3 * g * self.x,)


class ReLUPassingAll(Function):
    """relu whose backward passes G to the negative elements too: a bug, not a kink."""

    rules = ("dX = G",)

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g):
        return (g,)


class DoubledExp(Function):
    """exp whose backward says 2 exp(x): a bug on a smooth, curved op."""

    rules = ("dX = 2 G exp(X)",)

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return (2 * g * self.y,)


def test_right_ops_are_green_at_small_and_large_values():
    """A fixed step of 1e-6 is a 10% change of 1e-5 (÷, log and sqrt showed red) and drowns in
    the rounding of 1e5 (float64 keeps 1e5 to 1e-11); a step relative to each element fits both."""
    small = Tensor(np.full(3, 1e-5, np.float32), requires_grad=True)
    large = Tensor(np.full(3, 1e5, np.float32), requires_grad=True)
    row = Tensor(np.array([[1, 1 + 1e-5, 1, 1 - 1e-5]], np.float32), requires_grad=True)
    with nn.use_fused(False):  # the reference ops: sqrt(var + eps) of a nearly constant row
        normed = nn.LayerNorm(4)(row).sum()
    roots = [(1 / small).sum(), small.log().sum(), small.sqrt().sum(), normed]
    for root in [*roots, (large * large).sum(), (large + large).sum()]:
        checks, dot = viz.check_graph(root)
        assert max(c.error for c in checks) < GOOD, [(c.op, c.error) for c in checks]
        assert COLOURS[1] not in dot.source and COLOURS[2] not in dot.source
    assert "sqrt" in {c.op for c in viz.check_graph(normed)[0]}
    for x in (small, large):  # a wrong backward stays as wrong at any scale
        (wrong, _), _ = viz.check_graph(TripledSquare.apply(x).sum())
        assert wrong.error == pytest.approx(1 / 3, rel=1e-6) and not wrong.kink


def test_casts_to_float16_and_float32_are_checked_in_float64_and_green():
    """The inputs are made float64 to check an op; a cast's own dtype is too, or the check
    would difference a float16 cast in float16 and call its right backward broken."""
    x16 = Tensor(np.array([0.3, 1.7], np.float32), requires_grad=True)
    x64 = Tensor(np.array([0.3, 1.7]), requires_grad=True)
    for root in (x16.half().sum(), x64.float().sum()):
        checks, dot = viz.check_graph(root)
        cast = next(c for c in checks if c.op == "cast")
        assert cast.error < GOOD and not cast.kink
        assert COLOURS[1] not in dot.source and COLOURS[2] not in dot.source


def test_a_kink_within_the_step_is_grey_and_a_bug_beside_one_is_red():
    # relu at 0: the differences see the mean slope 1/2, backward says 0: error |0 - 1/2| / (1/2)
    zero = Tensor(np.zeros(1), requires_grad=True)
    checks, dot = viz.check_graph(zero.relu().sum())
    assert checks[0].op == "relu" and checks[0].error == pytest.approx(1.0) and checks[0].kink
    assert KINK in dot.source and "(kink)" in dot.source and COLOURS[2] not in dot.source
    assert "worst relative error" in dot.source and "besides 1 kink" in dot.source
    (clamped, _), _ = viz.check_graph(Tensor([1.0], requires_grad=True).clamp(0.0, 1.0).sum())
    assert clamped.kink  # at its upper bound
    away = Tensor(np.array([-1.5, -0.2, 0.3, 2.0]), requires_grad=True)
    (smooth, _), _ = viz.check_graph(away.relu().sum())  # a relative step never crosses 0
    assert smooth.error < GOOD and not smooth.kink
    _, box = viz.check_graph(nn.ReLU()(zero).sum(), depth=0)  # collapsed: grey, not red
    assert KINK in next(line for line in box.source.splitlines() if "<b>ReLU</b>" in line)
    x = Tensor(np.concatenate([[0.0], -np.linspace(1, 2, 20)]), requires_grad=True)
    (bug, _), dot = viz.check_graph(ReLUPassingAll.apply(x).sum())
    assert bug.error >= SUSPECT and not bug.kink and COLOURS[2] in dot.source


def test_a_wrong_backward_on_many_elements_of_a_curved_op_is_red_not_a_kink():
    """The bend of every element adds up: over 10⁵ elements, at the larger steps a curved op's
    second differences outgrow the gap a wrong backward leaves; only the smallest step tells."""
    x = Tensor(np.random.default_rng(0).standard_normal(10**5), requires_grad=True)
    (wrong, _), dot = viz.check_graph(DoubledExp.apply(x).sum())
    assert wrong.error >= SUSPECT and not wrong.kink and COLOURS[2] in dot.source


def test_an_op_without_a_derivative_is_drawn_with_its_rule_and_left_unchecked():
    x = Tensor(np.array([1.5, 2.5]), requires_grad=True)
    root = ((x.detach() // 1) * x + (x // 1)).sum()  # floor_divide: backward would raise
    assert "no derivative" in viz.draw_graph(root, show_rules=True).source
    checks, dot = viz.check_graph(root)
    assert (
        "//" not in {c.op for c in checks}
        and len(checks) >= 3
        and max(c.error for c in checks) < GOOD
    )
    assert "unchecked, with no derivative: floor_divide" in dot.source  # the caption says so
    assert "its ops (floor_divide) have no derivative" in viz.check_graph(x // 1)[1].source


def test_a_graph_without_ops_says_there_is_nothing_to_check():
    checks, dot = viz.check_graph(Tensor(1.0, requires_grad=True))
    assert checks == [] and "nothing to check" in dot.source and "0.0e+00" not in dot.source
