"""The one-query attention kernel (sampling with a KV cache) against the reference math.

Where a single query attends with no graph being built, `attend` runs `attend_one_query` on
the arrays; elsewhere the FusedAttention node, whose backward is tested in test_nn_kernels.py.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
import nn.kernels.packed_attention as dispatch
from engine import Tensor


@contextlib.contextmanager
def one_query_calls():
    """The calls the one-query kernel gets inside, as a list."""
    made, kernel = [], dispatch.attend_one_query
    dispatch.attend_one_query = lambda *args: made.append(args) or kernel(*args)
    try:
        yield made
    finally:
        dispatch.attend_one_query = kernel


TOLERANCES = {np.float64: dict(rtol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-6)}


def arrays(seed, *shapes, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    return [Tensor((rng.standard_normal(s) * scale).astype(dtype)) for s in shapes]


def both_paths(q, k, v, **options):
    """sdpa's output under no_grad, (fused, reference), and the one-query kernel's calls."""
    with engine.no_grad(), one_query_calls() as made:
        fused = F.scaled_dot_product_attention(q, k, v, **options)
        with nn.use_fused(False):
            reference = F.scaled_dot_product_attention(q, k, v, **options)
    return fused, reference, made


@settings(max_examples=15, deadline=None)
@given(
    s=st.integers(1, 9),
    heads=st.sampled_from([((2, 3), (2, 3)), ((1, 3), (2, 3)), ((3,), (3,)), ((), ())]),
    dtype=st.sampled_from([np.float64, np.float32]),
    scale=st.sampled_from([None, 0.7]),
)
def test_one_query_kernel_agrees_with_the_reference(s, heads, dtype, scale):
    q_lead, kv_lead = heads  # q's leading axes broadcast against the cache's
    q, k, v = arrays(s, (*q_lead, 1, 4), (*kv_lead, s, 4), (*kv_lead, s, 3), dtype=dtype)
    fused, reference, made = both_paths(q, k, v, scale=scale)
    assert len(made) == 1 and fused.dtype == dtype and not fused.requires_grad
    assert fused.shape == reference.shape == (*np.broadcast_shapes(q_lead, kv_lead), 1, 3)
    np.testing.assert_allclose(fused.data, reference.data, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_one_query_kernel_subtracts_the_maximum(dtype):
    """Scores beyond the range of exp (from 709 in float64, 88 in float32, 11 in float16):
    the maximum subtracted, still the softmax."""
    q, k, v = arrays(3, (2, 1, 4), (2, 6, 4), (2, 6, 5), dtype=dtype)
    q.data *= {np.float64: 2000.0, np.float32: 500.0, np.float16: 20.0}[dtype]
    fused, reference, calls = both_paths(q, k, v)
    assert len(calls) == 1 and fused.dtype == dtype and np.isfinite(fused.data).all()
    atol = 1e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(fused.data, reference.data, rtol=atol, atol=atol)


def test_one_query_kernel_serves_grouped_query_heads():
    q, k, v = arrays(4, (1, 4, 1, 8), (1, 2, 5, 8), (1, 2, 5, 8))
    fused, reference, calls = both_paths(q, k, v, enable_gqa=True)
    assert len(calls) == 1 and fused.shape == (1, 4, 1, 8)
    np.testing.assert_allclose(fused.data, reference.data, rtol=1e-10)


def test_a_query_that_requires_grad_takes_the_node_and_gets_its_gradient():
    q, k, v = arrays(5, (2, 1, 4), (2, 6, 4), (2, 6, 3))
    q.requires_grad = True
    with one_query_calls() as calls:
        y = F.scaled_dot_product_attention(q, k, v)
    assert not calls and y.grad_fn.name == "FusedAttention"
    y.sum().backward()
    assert q.grad.shape == q.shape and np.abs(q.grad).max() > 0


@pytest.mark.parametrize(
    "options", [{"attn_mask": np.array([True, False, True])}, {"dropout_p": 0.5}]
)
def test_a_mask_or_dropout_takes_the_general_kernel(options):
    q, k, v = arrays(6, (2, 1, 4), (2, 3, 4), (2, 3, 3))
    engine.manual_seed(0)
    fused, reference, calls = both_paths(q, k, v, **options)
    assert not calls and fused.shape == reference.shape == (2, 1, 3)
    if "attn_mask" in options:
        np.testing.assert_allclose(fused.data, reference.data, rtol=1e-10)


def test_anomaly_mode_checks_a_single_query_too():
    """Under detect_anomaly the node runs, whose forward is checked: float16 scores beyond
    65504 (inf, then inf - inf) come out as a FloatingPointError, not as NaN."""
    q, k, v = arrays(7, (1, 1, 8), (1, 4, 8), (1, 4, 2), dtype=np.float16)
    q.data[...], k.data[...] = 300.0, 300.0
    anomalous = pytest.raises(FloatingPointError, match="FusedAttention")
    quiet = np.errstate(all="ignore")  # the overflow itself, which anomaly mode is to name
    with engine.no_grad(), engine.detect_anomaly(), one_query_calls() as calls, quiet, anomalous:
        F.scaled_dot_product_attention(q, k, v)
    assert not calls
