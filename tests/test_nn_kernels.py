"""The fused kernels against the reference math they replace: same values, same gradients.

Every `nn.functional` op is run twice on the same float64 inputs, once with its kernel and once
under `nn.use_fused(False)`, with the same non-uniform upstream gradient and the same seed (the
same dropout masks). The outputs and every input's gradient must agree to a relative error of
1e-10, and both paths must pass gradcheck.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck
from model import GPT, GPTConfig
from nn.attention_inputs import mask_bias
from nn.kernels import attention
from nn.kernels import gelu as gelu_kernel
from viz.trace import trace

FAST = settings(max_examples=10, deadline=None)
lead_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
TOLERANCE = 1e-10


def leaves(seed, *shapes, scale=1.0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s) * scale, requires_grad=True) for s in shapes]


def relative_error(a, b):
    """The largest difference over the largest |b|, or over 1 where |b| is smaller: a
    gradient that is 0 throughout (a single key to attend to) has no scale of its own, and the
    inputs and the upstream gradient here are of unit scale."""
    return np.abs(a - b).max() / max(np.abs(b).max(), 1.0) if a.size else 0.0


def run(fn, inputs, fused, seed=0):
    """fn(*inputs) on one path: its output, the names of the ops that made it, and each
    input's gradient for one non-uniform upstream gradient. No node still holds an array
    that became an input's .grad (Function's contract: the leaf may keep it)."""
    for x in inputs:
        x.grad = None
    engine.manual_seed(seed)
    with nn.use_fused(fused):
        out = fn(*inputs)
    nodes = [t.grad_fn for t in trace(out).tensors if t.grad_fn is not None]
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(upstream, retain_graph=True)  # retained: what the nodes hold stays to see
    held = [a for node in nodes for a in arrays_held(node)]
    for k, x in enumerate(inputs):
        assert not any(np.shares_memory(x.grad, a) for a in held), f"input {k}'s grad is held"
    return out, {type(node).__name__ for node in nodes}, [x.grad for x in inputs]


def arrays_held(value):
    """Every ndarray a node holds: its attributes, and those of what they hold in turn."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, engine.Function):
        value = list(vars(value).values())
    elif isinstance(value, dict):
        value = list(value.values())
    return [a for v in value for a in arrays_held(v)] if isinstance(value, list | tuple) else []


@contextlib.contextmanager
def split_work():
    """The attention kernel with every split forced even at test sizes: tiles of 2 queries,
    groups of one head, the maximum over the keys folded down to one row."""
    saved = attention.TILE, attention.CACHE_ELEMENTS, attention.UNFOLDED_ROWS
    attention.TILE, attention.CACHE_ELEMENTS, attention.UNFOLDED_ROWS = 2, 1, 1
    try:
        yield
    finally:
        attention.TILE, attention.CACHE_ELEMENTS, attention.UNFOLDED_ROWS = saved


def assert_paths_agree(fn, inputs, kernel):
    """The kernel named `kernel` really ran, in one piece and split into tiles and groups, and
    agrees with the reference; both paths pass gradcheck."""
    reference, reference_ops, reference_grads = run(fn, inputs, fused=False)
    assert not any(name.startswith("Fused") for name in reference_ops)
    for split in (contextlib.nullcontext(), split_work()):
        with split:
            fused, fused_ops, fused_grads = run(fn, inputs, fused=True)
        assert kernel in fused_ops
        assert relative_error(fused.data, reference.data) <= TOLERANCE
        for k, (a, b) in enumerate(zip(fused_grads, reference_grads, strict=True)):
            assert relative_error(a, b) <= TOLERANCE, f"input {k}"
    for fused_path in (True, False):

        def seeded(*xs, on=fused_path):
            engine.manual_seed(0)  # the same dropout mask for every evaluation
            with nn.use_fused(on), split_work():
                return fn(*xs)

        assert gradcheck(seeded, inputs)


@FAST
@given(lead=lead_shapes, n_in=st.integers(1, 4), n_out=st.integers(1, 4), bias=st.booleans())
def test_linear_kernel(lead, n_in, n_out, bias):
    x, w, b = leaves(0, (*lead, n_in), (n_out, n_in), (n_out,))
    inputs = [x, w, b] if bias else [x, w]
    assert_paths_agree(F.linear, inputs, "FusedLinear")


@FAST
@given(lead=lead_shapes, c=st.integers(2, 5), affine=st.sampled_from(["wb", "w", "b", ""]))
def test_layer_norm_kernel(lead, c, affine):
    x, w, b = leaves(1, (*lead, c), (c,), (c,), scale=2.0)
    given_params = {"w": w, "b": b}

    def fn(x, *params):
        named = dict(zip([p for p in "wb" if p in affine], params, strict=True))
        return F.layer_norm(x, c, named.get("w"), named.get("b"))

    inputs = [x] + [given_params[p] for p in "wb" if p in affine]
    assert_paths_agree(fn, inputs, "FusedLayerNorm")


@FAST
@given(lead=lead_shapes, c=st.integers(2, 5), weighted=st.booleans())
def test_rms_norm_kernel(lead, c, weighted):
    x, w = leaves(2, (*lead, c), (c,), scale=2.0)
    if weighted:
        assert_paths_agree(lambda x, w: F.rms_norm(x, c, w), [x, w], "FusedRMSNorm")
    else:
        assert_paths_agree(lambda x: F.rms_norm(x, c), [x], "FusedRMSNorm")


@FAST
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple))
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_kernel(approximate, shape):
    (x,) = leaves(3, shape, scale=3.0)
    assert_paths_agree(lambda x: F.gelu(x, approximate), [x], "FusedGELU")


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_kernel_block_by_block(approximate, monkeypatch):
    monkeypatch.setattr(gelu_kernel, "_BLOCK", 4)
    (x,) = leaves(3, (3, 5), scale=3.0)  # 15 elements: blocks of 4, 4, 4 and 3
    assert_paths_agree(lambda x: F.gelu(x, approximate), [x], "FusedGELU")


def test_tanh_gelu_kernel_far_out_in_the_tails():
    """The kernel's h = 1 / (1 + exp(-2u)) overflows to exactly 0 where x < -10 (float32) or
    -25 (float64), with no warning. In float64 it agrees with the reference's (1 + tanh u) / 2;
    in float32 it is within 1e-6 of float64, where the reference's 1 + tanh u loses digits
    (1e-5 at x = -3)."""
    values = np.array([-1e4, -300, -30, -12, -10, -3, 0, 3, 10, 30, 300, 1e4])

    def gelu(dtype, fused):
        x = Tensor(values.astype(dtype), requires_grad=True)
        with nn.use_fused(fused):
            y = F.gelu(x, approximate="tanh")
        y.backward(np.ones(values.shape, dtype))
        assert y.dtype == x.grad.dtype == dtype
        return y.data, x.grad

    truth = gelu(np.float64, fused=False)
    for dtype, rtol in [(np.float64, 1e-10), (np.float32, 1e-6)]:
        y, dx = gelu(dtype, fused=True)
        np.testing.assert_allclose(y, truth[0], rtol=rtol, atol=1e-30)
        np.testing.assert_allclose(dx, truth[1], rtol=rtol, atol=1e-30)
        assert (y[0], dx[0], y[-1], dx[-1]) == (0, 0, 1e4, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swiglu_kernel_where_the_gate_is_far_out(dtype):
    """σ(a) = 1 / (1 + exp(-a)) overflows for a < -88 (float32) or -709 (float64): the kernel's
    σ is then exactly 0, with no warning, as the reference's is."""
    gate = np.array([-1e4, -1000, -100, -3, 0, 3, 100, 1000])
    x = np.concatenate([gate, np.full(gate.shape, 2.0)]).astype(dtype)
    results = []
    for fused in (True, False):
        t = Tensor(x.copy(), requires_grad=True)
        with nn.use_fused(fused):
            y = F.swiglu(t)
        y.backward(np.ones(y.shape, dtype))
        results.append((y.data, t.grad))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30)
    assert results[0][0][0] == 0 and results[0][0][-1] == 2000


@FAST
@given(lead=lead_shapes, h=st.integers(1, 4))
def test_swiglu_kernel(lead, h):
    (x,) = leaves(11, (*lead, 2 * h), scale=3.0)
    assert_paths_agree(F.swiglu, [x], "FusedSwiGLU")


@FAST
@given(t=st.integers(1, 6), groups=st.sampled_from([(4, 2), (4, 1), (3, 3)]))
def test_grouped_query_attention_kernel(t, groups):
    n_head, n_kv_head = groups
    q, k, v = leaves(12, (2, n_head, t, 2), (2, n_kv_head, t, 2), (2, n_kv_head, t, 3))

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    assert_paths_agree(fn, [q, k, v], "FusedAttention")


@FAST
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    v=st.integers(2, 6),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    label_smoothing=st.sampled_from([0.0, 0.1, 1.0]),
)
def test_cross_entropy_kernel(lead, v, reduction, label_smoothing):
    (logits,) = leaves(4, (*lead, v), scale=3.0)
    targets = np.random.default_rng(5).integers(-1, v, size=lead)  # -1: ignored
    targets.reshape(-1)[0] = v - 1  # at least one target kept

    def fn(z):
        return F.cross_entropy(
            z, targets, ignore_index=-1, reduction=reduction, label_smoothing=label_smoothing
        )

    assert_paths_agree(fn, [logits], "FusedCrossEntropy")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_kernel_with_every_target_ignored(reduction):
    (logits,) = leaves(6, (2, 3))
    targets = np.array([-100, -100])  # PyTorch's default ignore_index
    for fused in (True, False):
        fn = lambda z: F.cross_entropy(z, targets, reduction=reduction, label_smoothing=0.2)  # noqa: E731
        out, _, (grad,) = run(fn, [logits], fused)
        expected = {"mean": np.nan, "sum": 0.0, "none": [0.0, 0.0]}[reduction]  # as in PyTorch
        np.testing.assert_array_equal(out.data, expected)
        assert np.all(grad == 0)


@FAST
@given(
    lq=st.integers(1, 7),
    lk=st.integers(1, 7),
    mask=st.sampled_from(["none", "causal", "bool", "float"]),
    dropout_p=st.sampled_from([0.0, 0.4]),
)
def test_attention_kernel(lq, lk, mask, dropout_p):
    q, k, v = leaves(7, (2, 2, lq, 3), (2, 2, lk, 3), (2, 2, lk, 2))
    rng = np.random.default_rng(8)
    attn_mask = {
        "none": None,
        "causal": None,
        "bool": np.concatenate([np.ones((lq, 1), bool), rng.random((lq, lk - 1)) < 0.5], 1),
        "float": rng.standard_normal((2, 1, lq, lk)),
    }[mask]

    def fn(q, k, v):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask, dropout_p=dropout_p, is_causal=mask == "causal"
        )

    assert_paths_agree(fn, [q, k, v], "FusedAttention")


@pytest.mark.parametrize("far", ["above", "below"])
def test_attention_kernel_where_exp_of_the_scores_leaves_the_float_range(far):
    """Scores of ±2000 (beyond float64's exp): the kernel's unshifted exp would give inf or 0
    sums there, so it must fall back to subtracting the maximum, and still agree."""
    q, k, v = leaves(17, (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2))
    mask = np.zeros((4, 5))
    if far == "above":
        q.data *= 2000.0
    else:
        mask[1:3] = -2000.0  # every key of queries 1 and 2, so that no shift but the max works

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    assert_paths_agree(fn, [q, k, v], "FusedAttention")


@pytest.mark.parametrize("logits", [1.0, 100.0])
def test_attention_kernel_in_float32_with_logits_small_and_large(logits):
    """float32 overflows exp from 88.7 on: both the kernel's unshifted exp (logits 1) and its
    fallback (logits 100) agree with the reference in float32, with no warning raised."""
    q, k, v = (
        Tensor(a.data.astype(np.float32), requires_grad=True)
        for a in leaves(18, *[(2, 2, 6, 4)] * 3)
    )
    q.data *= np.float32(logits)

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    reference, _, reference_grads = run(fn, [q, k, v], fused=False)
    for split in (contextlib.nullcontext(), split_work()):
        with split:
            fused, _, grads = run(fn, [q, k, v], fused=True)
        assert fused.dtype == np.float32 and np.isfinite(fused.data).all()
        assert relative_error(fused.data, reference.data) <= 1e-5
        for a, b in zip(grads, reference_grads, strict=True):
            assert a.dtype == np.float32 and relative_error(a, b) <= 1e-5


def test_attention_kernel_in_float16_subtracts_the_maximum():
    """float16's range is too narrow for unshifted weights: a weight of 2^8 times a value of
    300 would overflow to inf in the forward, and G / s times 64 values in the backward."""
    h = np.float16

    def attend(q, k, v, g, fused):
        q, k, v = (Tensor(np.asarray(a, h), requires_grad=True) for a in (q, k, v))
        with nn.use_fused(fused):
            y = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        y.backward(np.asarray(g, h))
        return y.data, q.grad, k.grad, v.grad

    for case in (
        ([[5.4]], [[1.0]], [[300.0]], [[1.0]]),
        ([[-6.0]], np.ones((4, 1)), np.ones((4, 64)), np.full((1, 64), 20.0)),
    ):
        fused, reference = attend(*case, fused=True), attend(*case, fused=False)
        for a, b in zip(fused, reference, strict=True):
            assert a.dtype == h and np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-3)


def test_rms_norm_kernel_without_weight_returns_no_array_it_keeps():
    """Its output is a copy of the normalised X̂ that backward reads: a change to the output
    in place leaves the gradient right."""
    x = leaves(19, (2, 4))[0]
    g = np.random.default_rng(2).standard_normal((2, 4))
    grads = []
    for change in (False, True):
        x.grad = None
        y = F.rms_norm(x, (4,))
        if change:
            with engine.no_grad():
                y *= 2.0
        y.backward(g)
        grads.append(x.grad)
    np.testing.assert_array_equal(grads[0], grads[1])


BLIND = np.zeros((2, 2, 4, 4), bool)
BLIND[0, :, :, :2], BLIND[1, 0] = True, np.tril(np.ones((4, 4), bool), -1)  # row 0 of head 0 blind


@pytest.mark.parametrize(
    ("mask", "blind"),
    [(np.array([[[[1, 1, 1, 0]]], [[[0, 0, 0, 0]]]], bool), (1, slice(None), slice(None))),
     (np.array([[1, 0, 1, 0]], bool), None),
     (np.array([0, 1, 1, 1], bool), None),
     (np.array([[1], [0], [1], [1]], bool), (slice(None), slice(None), 1)),
     (BLIND, (1, 0, 0))],
)  # fmt: skip
def test_attention_takes_a_mask_of_any_shape_that_broadcasts_and_blind_queries_get_0(mask, blind):
    """(B, 1, 1, S) pads keys, (1, S) and (S,) hide keys from every query, (L, 1) hides every
    key from some queries: those, blind, attend to nothing and get 0, as in PyTorch."""
    q, k, v = leaves(14, (2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 2))

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    assert_paths_agree(fn, [q, k, v], "FusedAttention")
    for fused in (True, False):
        y, _, grads = run(fn, [q, k, v], fused)
        assert all(np.isfinite(g).all() for g in grads)
        if blind is not None:
            assert np.all(y.data[blind] == 0) and np.all(grads[0][blind] == 0)
            weights = F.attention_weights(q, k, attn_mask=mask)
            assert np.all(weights.data[blind] == 0)


def test_attention_kernel_broadcasts_the_queries_against_the_keys():
    q, k, v = leaves(16, (1, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    assert run(fn, [q, k, v], fused=True)[0].shape == (2, 2, 4, 2)
    assert_paths_agree(fn, [q, k, v], "FusedAttention")


@pytest.mark.parametrize("dropout_p", [0.0, 0.4])
def test_attention_kernel_on_two_dimensional_inputs(dropout_p):
    q, k, v = leaves(13, (5, 3), (4, 3), (4, 2))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)  # noqa: E731
    assert_paths_agree(fn, [q, k, v], "FusedAttention")


@FAST
@given(t=st.integers(1, 6), n_head=st.integers(1, 3), dropout_p=st.sampled_from([0.0, 0.4]))
def test_packed_attention_kernel(t, n_head, dropout_p):
    (qkv,) = leaves(9, (2, t, 3 * n_head * 2))

    def fn(qkv):  # as CausalSelfAttention splits its packed q | k | v projection
        heads = qkv.reshape(2, t, 3 * n_head, 2).transpose(1, 2)  # (B, 3 nh, T, hs)
        q, k, v = heads[:, :n_head], heads[:, n_head : 2 * n_head], heads[:, 2 * n_head :]
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        return y.transpose(1, 2).reshape(2, t, n_head * 2)

    _, fused_ops, _ = run(fn, [qkv], fused=True)
    assert "GetItem" not in fused_ops  # the three slices are bypassed
    assert_paths_agree(fn, [qkv], "FusedPackedAttention")


@given(
    keys=st.integers(1, 70),
    queries=st.sampled_from([1, 2, 5, 64]),
    folded=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_maximum_over_the_keys_is_exactly_numpys(keys, queries, folded, seed):
    # The maximum only keeps exp(S - max) from overflowing: the softmax is the same number for
    # any shift, so the kernel tests could not see a wrong one.
    e_t = np.random.default_rng(seed).standard_normal((2, 3, keys, queries)).astype(np.float32)
    e_t[0, 1, keys // 2] = -np.inf  # a masked key
    with split_work() if folded else contextlib.nullcontext():
        found = attention.max_over_keys(e_t)
    assert found.shape == (2, 3, 1, queries)
    assert np.array_equal(found, e_t.max(axis=-2, keepdims=True))


def test_tiles_skip_the_keys_a_causal_mask_hides_from_a_whole_block():
    causal = np.where(np.triu(np.ones((6, 6), bool), 1), -np.inf, 0.0)
    with split_work():  # tiles of 2 queries
        found = attention.tiles(causal, 6, 6)
        assert [(t.queries.start, t.queries.stop, t.keys.start, t.keys.stop) for t in found] == [
            (0, 2, 0, 2), (2, 4, 0, 4), (4, 6, 0, 6)
        ]  # fmt: skip
        # The mask is added only on the diagonal: keys 1, 3..4 and 5 of the three blocks.
        assert [(t.masked_keys.start, t.masked_keys.stop) for t in found] == [
            (1, 2),
            (3, 4),
            (5, 6),
        ]
        assert [(t.masked.start, t.masked.stop) for t in found] == [(1, 2), (3, 4), (5, 6)]
        window = np.where(np.abs(np.arange(6)[:, None] - np.arange(6)) <= 1, 0.0, -np.inf)
        assert [(t.keys.start, t.keys.stop) for t in attention.tiles(window, 6, 6)] == [
            (0, 3), (1, 5), (3, 6)
        ]  # fmt: skip
        unmasked = attention.tiles(None, 5, 3)
        assert [(t.keys.start, t.keys.stop, t.masked) for t in unmasked] == [(0, 3, None)] * 3


def test_the_causal_mask_and_its_tiles_are_made_once_per_shape():
    """The causal bias is one read-only array per (L, S, dtype), and the kernel's tiles of it
    follow TILE (so the split tests split it too)."""
    q = np.zeros((1, 1, 6, 2))
    bias = mask_bias(q, q, None, is_causal=True)[0]
    assert bias is mask_bias(q, q, None, is_causal=True)[0] and not bias.flags.writeable
    assert mask_bias(q.astype(np.float32), q, None, is_causal=True)[0].dtype == np.float32
    for split, count in ((contextlib.nullcontext(), 1), (split_work(), 3)):
        with split:
            kernel = attention.FusedAttention()
            kernel.forward(q, q, q, bias, 1.0, None)
        assert len(kernel.tiles) == count


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_whole_gpt_is_the_same_on_both_paths(dropout):
    engine.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8, dropout=dropout)
    model = GPT(config).to(np.float64)
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 11, (2, 7)), rng.integers(0, 11, (2, 7))
    targets[0, 3] = -1
    results = []
    for fused in (True, False):
        engine.manual_seed(5)  # the same dropout masks on both paths
        with nn.use_fused(fused):
            logits, loss = model(idx, targets)
        loss.backward()
        results.append((logits.data, loss.item(), dict(model.named_parameters())))
        results[-1] = (*results[-1][:2], {n: p.grad for n, p in results[-1][2].items()})
        model.zero_grad()
    (logits_a, loss_a, grads_a), (logits_b, loss_b, grads_b) = results
    assert relative_error(logits_a, logits_b) <= TOLERANCE
    assert abs(loss_a - loss_b) <= TOLERANCE * abs(loss_b)
    for name in grads_a:
        assert relative_error(grads_a[name], grads_b[name]) <= TOLERANCE, name


def test_use_fused_is_a_context_manager_and_a_decorator():
    assert nn.kernels.enabled()

    @nn.use_fused(False)
    def reference_ops(x):
        assert not nn.kernels.enabled()
        with nn.use_fused(True):
            assert nn.kernels.enabled()
        assert not nn.kernels.enabled()
        return F.gelu(x)

    (x,) = leaves(10, (3,))
    assert type(reference_ops(x).grad_fn).__name__ == "Mul"
    assert type(reference_ops(x).grad_fn).__name__ == "Mul"  # one decorator, called again
    assert nn.kernels.enabled()
    with pytest.raises(RuntimeError), nn.use_fused(False):
        raise RuntimeError
    assert nn.kernels.enabled()  # restored after an error too


def test_reference_graph_of_attention_shows_its_math():
    engine.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    idx = np.arange(6)[None] % 11
    with nn.use_fused(False):
        _, loss = model(idx, idx)
    graph = trace(loss)
    attention = [t for t in graph.tensors if model.transformer.h[0].attn in t.scope]
    names = {type(t.grad_fn).__name__ for t in attention if t.grad_fn is not None}
    assert {"MatMul", "SoftmaxOp", "Permute", "Reshape", "GetItem"} <= names
    assert any(t.name == "causal mask" for t in graph.tensors)
    assert not any(type(t.grad_fn).__name__.startswith("Fused") for t in attention if t.grad_fn)
