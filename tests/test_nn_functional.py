"""nn.functional: forward values against plain NumPy re-derivations, gradients by gradcheck."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck
from engine.ops import erf

FAST = settings(max_examples=8, deadline=None)
leading_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


def t64(*shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape) * scale, requires_grad=True)


# ---- linear ----------------------------------------------------------------------------------


@FAST
@given(lead=leading_shapes, bias=st.booleans())
def test_linear_matches_numpy_and_gradchecks(lead, bias):
    x, w, b = t64(*lead, 4, seed=1), t64(3, 4, seed=2), t64(3, seed=3)
    params = (w, b) if bias else (w,)
    y = F.linear(x, *params)
    expected = np.einsum("...i,oi->...o", x.data, w.data) + (b.data if bias else 0)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert gradcheck(lambda x, *p: F.linear(x, *p), [x, *params])


def test_linear_rejects_mismatched_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        F.linear(t64(2, 5), t64(3, 4))
    with pytest.raises(TypeError, match="float32"):
        F.linear(Tensor(np.ones((2, 4), np.float32)), t64(3, 4))


# ---- embedding -------------------------------------------------------------------------------


@FAST
@given(ids_shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
def test_embedding_with_repeated_ids_gradchecks(ids_shape):
    rng = np.random.default_rng(sum(ids_shape))
    ids = rng.integers(0, 3, size=ids_shape)  # 3 rows only: ids repeat
    w = t64(3, 5, seed=4)
    y = F.embedding(ids, w)
    np.testing.assert_array_equal(y.data, w.data[ids])
    assert gradcheck(lambda w: F.embedding(ids, w), [w])


def test_embedding_gradient_sums_repeats():
    w = Tensor(np.zeros((4, 2)), requires_grad=True)
    F.embedding(np.array([[1, 1], [3, 1]]), w).sum().backward()
    np.testing.assert_array_equal(w.grad, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_padding_idx_gets_no_gradient_as_in_pytorch():
    w = Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    ids = np.array([[1, 3], [3, 0]])
    out = F.embedding(ids, w, padding_idx=-1)  # id 3, counted from the end
    np.testing.assert_array_equal(out.data, w.data[ids])  # the same rows
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, [[1, 1], [1, 1], [0, 0], [0, 0]])
    layer = nn.Embedding(4, 2, padding_idx=0)
    assert np.all(layer.weight.data[0] == 0) and np.any(layer.weight.data[1:] != 0)
    assert repr(layer).startswith("Embedding(4, 2, padding_idx=0)")
    with pytest.raises(ValueError, match="padding_idx must be an id of the 4 embeddings, got 4"):
        nn.Embedding(4, 2, padding_idx=4)


def test_embedding_rejects_bad_ids():
    with pytest.raises(IndexError, match=r"id 4; valid ids are 0..3"):
        F.embedding(np.array([0, 4]), t64(4, 2))
    with pytest.raises(TypeError, match="integer"):
        F.embedding(np.array([0.0]), t64(4, 2))


# ---- normalisation ---------------------------------------------------------------------------


def numpy_layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


@FAST
@given(lead=leading_shapes, c=st.integers(2, 6), affine=st.sampled_from(["wb", "w", ""]))
def test_layer_norm_matches_numpy_and_gradchecks(lead, c, affine):
    x, w, b = t64(*lead, c, seed=5, scale=3.0), t64(c, seed=6), t64(c, seed=7)
    weight = w if "w" in affine else None
    bias = b if "b" in affine else None
    y = F.layer_norm(x, (c,), weight, bias, eps=1e-5)
    w_ref, b_ref = (1.0 if weight is None else w.data), (0.0 if bias is None else b.data)
    ref = numpy_layer_norm(x.data, w_ref, b_ref, 1e-5)
    np.testing.assert_allclose(y.data, ref, rtol=1e-10, atol=1e-12)
    params = [p for p in (weight, bias) if p is not None]
    fn = {  # one closure per parameter set, so gradcheck perturbs exactly these inputs
        "wb": lambda x, w, b: F.layer_norm(x, c, w, b),
        "w": lambda x, w: F.layer_norm(x, c, w),
        "": lambda x: F.layer_norm(x, c),
    }[affine]
    assert gradcheck(fn, [x, *params])


@FAST
@given(lead=leading_shapes, c=st.integers(2, 6), weighted=st.booleans())
def test_rms_norm_matches_numpy_and_gradchecks(lead, c, weighted):
    x, w = t64(*lead, c, seed=8, scale=2.0), t64(c, seed=9)
    y = F.rms_norm(x, c, w if weighted else None, eps=1e-6)
    ref = x.data / np.sqrt((x.data**2).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(y.data, ref * (w.data if weighted else 1.0), rtol=1e-10)
    if weighted:
        assert gradcheck(lambda x, w: F.rms_norm(x, c, w), [x, w])
    else:
        assert gradcheck(lambda x: F.rms_norm(x, c), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fused", [True, False])
def test_rms_norm_eps_defaults_to_the_dtypes_machine_epsilon(dtype, fused):
    x = Tensor(np.array([[1e-4, -2e-4, 3e-4]], dtype))  # small enough for eps to matter
    eps = np.finfo(dtype).eps
    expected = x.data / np.sqrt((x.data**2).mean(-1, keepdims=True) + eps)
    with nn.use_fused(fused):
        for y in (F.rms_norm(x, 3), nn.RMSNorm(3).to(dtype)(x)):
            assert y.dtype == dtype
            np.testing.assert_allclose(y.data, expected, rtol=1e-6)


def test_norms_reject_wrong_last_axis():
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        F.layer_norm(t64(2, 3), 4)
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        F.rms_norm(t64(2, 3), 4)


# ---- activations -----------------------------------------------------------------------------


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 2001), [0.0, 1.99999, 2.0, 2.00001, np.inf, -np.inf]])
    exact = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), exact, rtol=0, atol=3e-15)
    np.testing.assert_allclose(erf(x.astype(np.float32)), exact, rtol=0, atol=1e-6)
    assert erf(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_matches_numpy_and_gradchecks(approximate):
    x = t64(3, 41, seed=10, scale=3.0)
    if approximate == "tanh":
        v = x.data
        ref = 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))
    else:
        ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.data.ravel()])
    np.testing.assert_allclose(F.gelu(x, approximate).data.ravel(), ref.ravel(), atol=1e-14)
    assert gradcheck(lambda x: F.gelu(x, approximate), [x])


def test_gelu_saturates_without_overflow_and_refuses_integers():
    x = Tensor(np.array([-1000.0, 1000.0], dtype=np.float32), requires_grad=True)
    np.testing.assert_array_equal(F.gelu(x).data, [0.0, 1000.0])
    np.testing.assert_array_equal(F.gelu(x, "none").data, [0.0, 1000.0])
    with pytest.raises(TypeError, match="floating-point"):
        F.gelu(Tensor(np.array([1, 2])))


def test_gelu_float32_stays_float32_and_forms_agree():
    x = Tensor(np.linspace(-5, 5, 101, dtype=np.float32), requires_grad=True)
    tanh_form, exact = F.gelu(x, "tanh"), F.gelu(x, "none")
    assert tanh_form.dtype == exact.dtype == np.float32
    np.testing.assert_allclose(tanh_form.data, exact.data, atol=5e-4)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, "fast")


def test_dropout_scales_kept_values_is_seeded_and_gradchecks():
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    engine.manual_seed(3)
    y = F.dropout(x, 0.25)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    engine.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.25).data, y.data)  # same seed, same mask
    assert F.dropout(x, 0.25, training=False) is x


def test_dropout_gradchecks_with_a_fixed_mask():
    def fn(x):
        engine.manual_seed(4)  # gradcheck evaluates fn many times: the same mask each time
        return F.dropout(x, 0.5)

    assert gradcheck(fn, [t64(4, 5)])


def test_dropout_gradient_is_the_mask():
    x = t64(6, 7)
    engine.manual_seed(5)
    y = F.dropout(x, 0.4)
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(x.grad, (y.data != 0) / 0.6)


def test_softmax_and_log_softmax_use_dim():
    x = t64(3, 4)
    np.testing.assert_allclose(F.softmax(x, dim=0).data.sum(0), 1.0)
    np.testing.assert_allclose(F.log_softmax(x).data, np.log(F.softmax(x).data), atol=1e-12)


# ---- cross-entropy ---------------------------------------------------------------------------


def numpy_cross_entropy(z, t, ignore):
    z, t = z.reshape(-1, z.shape[-1]), t.reshape(-1)
    keep = t != ignore
    logp = z - z.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return -logp[keep, t[keep]].mean()


@FAST
@given(shape=st.sampled_from([(5,), (2, 3), (1, 4)]), v=st.integers(2, 6), seed=st.integers(0, 99))
def test_cross_entropy_with_ignored_targets(shape, v, seed):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, v, size=shape)
    targets.reshape(-1)[0] = -100  # PyTorch's default ignore_index; one kept below
    targets.reshape(-1)[-1] = v - 1
    logits = Tensor(rng.standard_normal((*shape, v)) * 3, requires_grad=True)
    loss = F.cross_entropy(logits, targets)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), numpy_cross_entropy(logits.data, targets, -100))
    assert gradcheck(lambda z: F.cross_entropy(z, targets), [logits])


def test_cross_entropy_is_stable_and_float32():
    logits = Tensor(np.array([[1000.0, 0.0], [0.0, -1000.0]], np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 0]))
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), 500.0)
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5], [0, 0]], atol=1e-6)


def test_cross_entropy_errors_and_all_ignored():
    z = t64(2, 3)
    with pytest.raises(ValueError, match=r"targets of shape \(2,\)"):
        F.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(IndexError, match="target 3 out of range for 3"):
        F.cross_entropy(z, np.array([0, 3]))
    assert np.isnan(F.cross_entropy(z, np.array([-100, -100])).item())
    with pytest.raises(IndexError, match="target -1"):
        F.cross_entropy(z, np.array([0, -1]))  # -1 is nanoGPT's ignore_index, not PyTorch's


@pytest.mark.parametrize("fused", [True, False])
def test_cross_entropy_of_one_unbatched_position(fused):
    """Logits (V,) and a 0-D target, as PyTorch takes them: the loss of that one position."""
    z = t64(4)
    with nn.use_fused(fused):
        loss = F.cross_entropy(z, np.array(2), label_smoothing=0.1)
        batched = F.cross_entropy(z.reshape(1, 4), np.array([2]), label_smoothing=0.1)
        assert loss.shape == () and loss.item() == pytest.approx(batched.item(), rel=1e-12)
        assert gradcheck(lambda z: F.cross_entropy(z, np.array(2)), [z])


@pytest.mark.parametrize("fused", [True, False])
def test_integer_tensors_are_refused_where_the_math_needs_floats(fused):
    ints = Tensor(np.ones((2, 3), dtype=np.int64))
    calls = {
        "cross_entropy": lambda: F.cross_entropy(ints, np.array([0, 1])),
        "layer_norm": lambda: F.layer_norm(ints, 3),
        "rms_norm": lambda: F.rms_norm(ints, 3),
        "attention needs": lambda: F.scaled_dot_product_attention(ints, ints, ints),
        "attn_mask must be bool or float": lambda: F.scaled_dot_product_attention(
            t64(2, 3), t64(2, 3), t64(2, 3), attn_mask=np.ones((2, 2), dtype=np.int64)
        ),
    }
    with nn.use_fused(fused):
        for what, call in calls.items():
            with pytest.raises(TypeError, match=what):
                call()


# ---- attention -------------------------------------------------------------------------------


def numpy_attention(q, k, v, causal=False, mask=None, scale=None):
    """PyTorch's documented reference: a causal mask hides key j > query i (top-left aligned
    when L != S); a boolean mask hides where it is False, a float mask is added."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    L, S = s.shape[-2:]
    if causal:
        for i in range(L):
            s[..., i, i + 1 :] = -np.inf
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


@FAST
@given(tq=st.integers(1, 4), tk=st.integers(1, 4), causal=st.booleans())
def test_attention_matches_numpy_and_gradchecks(tq, tk, causal):
    q, k, v = t64(2, 2, tq, 3, seed=11), t64(2, 2, tk, 3, seed=12), t64(2, 2, tk, 4, seed=13)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    np.testing.assert_allclose(y.data, numpy_attention(q.data, k.data, v.data, causal))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # noqa: E731
    assert gradcheck(fn, [q, k, v])


@pytest.mark.parametrize(
    ("shapes", "message"),
    [(((2, 3, 4, 8), (5, 3, 4, 8), (5, 3, 4, 8)), r"queries \(2, 3, 4, 8\) and keys \(5, 3, 4, 8"),
     (((2, 4, 8), (2, 4, 6), (2, 4, 6)), r"queries \(2, 4, 8\) and keys \(2, 4, 6\) do not fit"),
     (((8,), (8,), (8,)), r"queries \(8,\) and keys \(8,\) do not fit"),
     (((2, 4, 8), (2, 4, 8), (2, 5, 8)), r"keys \(2, 4, 8\) and values \(2, 5, 8\) do not fit")],
)  # fmt: skip
def test_attention_names_the_shapes_that_do_not_fit(shapes, message):
    q, k, v = (Tensor(np.ones(s)) for s in shapes)
    for fused in (True, False):
        with nn.use_fused(fused), pytest.raises(ValueError, match=message):
            F.scaled_dot_product_attention(q, k, v)


def test_attention_defaults_are_pytorchs():
    q, k, v = t64(1, 2, 5, 4, seed=1), t64(1, 2, 5, 4, seed=2), t64(1, 2, 5, 3, seed=3)
    plain = F.scaled_dot_product_attention(q, k, v)  # not causal unless asked, scale 1/√E
    np.testing.assert_allclose(plain.data, numpy_attention(q.data, k.data, v.data))
    scaled = F.scaled_dot_product_attention(q, k, v, scale=0.25)
    np.testing.assert_allclose(scaled.data, numpy_attention(q.data, k.data, v.data, scale=0.25))
    # A single query of a cache sees every key; with is_causal it would see key 0 alone.
    one = F.scaled_dot_product_attention(q[:, :, -1:], k, v, is_causal=True)
    np.testing.assert_allclose(one.data, np.broadcast_to(v.data[:, :, :1], one.shape))


def test_attention_masks_boolean_and_float():
    q, k, v = t64(2, 1, 3, 4, seed=4), t64(2, 1, 5, 4, seed=5), t64(2, 1, 5, 2, seed=6)
    keep = np.random.default_rng(0).random((2, 1, 3, 5)) < 0.6
    keep[..., 0] = True  # every query sees at least one key
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_allclose(y.data, numpy_attention(q.data, k.data, v.data, mask=keep))
    bias = np.random.default_rng(1).standard_normal((3, 5))
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    np.testing.assert_allclose(y.data, numpy_attention(q.data, k.data, v.data, mask=bias))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # noqa: E731
    assert gradcheck(fn, [q, k, v])
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=keep, is_causal=True)
    with pytest.raises(ValueError, match=r"queries \(2, 1, 3, 4\) and keys \(2, 1, 5, 3\)"):
        F.scaled_dot_product_attention(q, t64(2, 1, 5, 3), v)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("gqa", [False, True])
def test_a_float_attn_mask_that_requires_grad_gets_its_gradient(fused, gqa):
    q, kv = t64(2, 4 if gqa else 2, 3, 4, seed=7), t64(2, 2, 5, 4, seed=8)
    bias = t64(3, 5, seed=9)  # a learned bias on the scores (a relative-position one, say)
    blind = Tensor(np.where(np.arange(5) < 4, 0.0, -np.inf) * np.ones((3, 1)), requires_grad=True)
    blind.data[1] = -np.inf  # query 1 sees no key: its output and gradients are 0

    def attend(q, kv, mask):
        with nn.use_fused(fused):
            return F.scaled_dot_product_attention(q, kv, kv, attn_mask=mask, enable_gqa=gqa)

    assert gradcheck(attend, [q, kv, bias])
    attend(q, kv, blind).sum().backward()
    assert blind.grad[1].tolist() == [0.0] * 5 and np.isfinite(q.grad).all()
    assert (blind.grad[[0, 2], 4] == 0).all() and (blind.grad[[0, 2], :4] != 0).any()


def test_attention_dropout_gradient_with_fixed_mask():
    q, k, v = t64(1, 2, 4, 3, seed=1), t64(1, 2, 4, 3, seed=2), t64(1, 2, 4, 3, seed=3)

    def fn(q, k, v):
        engine.manual_seed(7)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, is_causal=True)

    assert gradcheck(fn, [q, k, v])
    plain = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert not np.allclose(fn(q, k, v).data, plain.data)
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)


@FAST
@given(
    b=st.integers(1, 2), t=st.integers(1, 4), n_head=st.integers(1, 3), hs=st.integers(1, 3),
    causal=st.booleans(),
)  # fmt: skip
def test_attention_on_the_slices_of_packed_heads_gradchecks(b, t, n_head, hs, causal):
    qkv = t64(b, t, 3 * n_head * hs, seed=t)

    def attend(qkv):  # a GPT's split of its q | k | v projection into heads
        heads = qkv.reshape(b, t, 3 * n_head, hs).transpose(1, 2)  # (B, 3 nh, T, hs)
        q, k, v = heads[:, :n_head], heads[:, n_head : 2 * n_head], heads[:, 2 * n_head :]
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    y = attend(qkv)
    q, k, v = np.moveaxis(qkv.data.reshape(b, t, 3, n_head, hs), (2, 3), (0, 2))
    np.testing.assert_allclose(y.data, numpy_attention(q, k, v, causal), rtol=1e-12)
    assert gradcheck(attend, [qkv])


def test_float32_in_float32_out_forward_and_backward():
    rng = np.random.default_rng(0)

    def f32(*shape):
        return Tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)

    x, w, b, c = f32(2, 3, 4), f32(5, 4), f32(5), f32(4)
    q, k, v = f32(1, 2, 3, 4), f32(1, 2, 3, 4), f32(1, 2, 3, 4)
    heads = f32(1, 6, 3, 4)  # packed q | k | v heads (B, 3 nh, T, hs): the packed kernel
    outputs = [
        F.linear(x, w, b),
        F.embedding(np.array([0, 4]), w),
        F.layer_norm(x, 4, c, c),
        F.rms_norm(x, 4, c),
        F.gelu(x, "tanh"),
        F.gelu(x, "none"),
        F.dropout(x, 0.3),
        F.cross_entropy(F.linear(x, w), np.array([[0, 1, -100], [4, 4, 2]])),
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.2),
        F.scaled_dot_product_attention(heads[:, :2], heads[:, 2:4], heads[:, 4:], dropout_p=0.2),
    ]
    for out in outputs:
        assert out.dtype == np.float32, out._ctx
        grads = out._ctx.backward(np.ones(out.shape, np.float32))  # before the engine casts
        assert all(g.dtype == np.float32 for g in grads if g is not None), out._ctx
