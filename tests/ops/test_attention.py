"""Tests for minigan/ops/attention.py."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.backend import implementation, implementations, use_implementation
from minigan.ops.attention import scaled_dot_product_attention as attention
from minigan.testing import assert_close, check_op, gradcheck, gradgradcheck


def definition(q, k, v, scale):
    """The oracle, one query row at a time in float64: with s_j = scale q.k_j and
    m = max_j s_j,  out = sum_j exp(s_j - m) v_j / sum_j exp(s_j - m),  lse = m + log sum_j
    exp(s_j - m). q: (*batch, Nq, D), k: (*batch, Nk, D), v: (*batch, Nk, Dv)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    *batch, nq, _ = q.shape
    out, lse = np.zeros((*batch, nq, v.shape[-1])), np.zeros((*batch, nq))
    for row in np.ndindex(*batch, nq):
        head = row[:-1]
        s = scale * np.array([q[row] @ key for key in k[head]])
        w = np.exp(s - s.max())
        out[row] = sum(w_j * v_j for w_j, v_j in zip(w, v[head])) / w.sum()
        lse[row] = s.max() + np.log(w.sum())
    return out, lse


def _random(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _qkv(b, h, nq, nk, d, dv, dtype=np.float64, seed=0, requires_grad=False):
    shapes = [(b, h, nq, d), (b, h, nk, d), (b, h, nk, dv)]
    return [mg.tensor(_random(s, seed + i, dtype), requires_grad=requires_grad)
            for i, s in enumerate(shapes)]


VALUE_TOLERANCES = {np.float64: dict(rtol=1e-12, atol=1e-12),
                    np.float32: dict(rtol=1e-5, atol=1e-6),
                    np.float16: dict(rtol=2e-3, atol=2e-3)}


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_values_and_lse_match_the_definition(dtype):
    q, k, v = _qkv(2, 3, 5, 7, 4, 6, dtype)
    scale = 0.7
    want_out, want_lse = definition(q.numpy(), k.numpy(), v.numpy(), scale)
    out = attention(q, k, v, scale)
    assert out.dtype == dtype and out.shape == (2, 3, 5, 6)
    assert_close(out, want_out, **VALUE_TOLERANCES[dtype])
    registered_out, lse = implementation("attention", "cpu").fn(q.data, k.data, v.data, scale)
    assert lse.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert_close(lse, want_lse, **VALUE_TOLERANCES[np.float32 if dtype == np.float16
                                                    else dtype])
    assert_close(registered_out, out, rtol=0, atol=0)


def test_three_dimensional_inputs_are_one_head_and_scale_defaults_to_one_over_sqrt_d():
    q, k, v = (t[:, 0] for t in _qkv(2, 1, 4, 3, 5, 2))
    out = attention(q, k, v)
    assert out.shape == (2, 4, 2)
    assert_close(out, definition(q.numpy(), k.numpy(), v.numpy(), 1 / math.sqrt(5))[0])


@settings(max_examples=10)
@given(b=st.integers(1, 2), h=st.integers(1, 2), nq=st.integers(1, 6), nk=st.integers(1, 6),
       d=st.integers(1, 5), dv=st.integers(1, 5), scale=st.floats(-3.0, 3.0),
       seed=st.integers(0, 2 ** 16))
def test_drawn_shapes_match_the_definition(b, h, nq, nk, d, dv, scale, seed):
    q, k, v = _qkv(b, h, nq, nk, d, dv, seed=seed)
    assert_close(attention(q, k, v, scale),
                 definition(q.numpy(), k.numpy(), v.numpy(), scale)[0], rtol=1e-12,
                 atol=1e-12)


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    q, k, v = _qkv(2, 2, 5, 6, 3, 4, requires_grad=True)
    g = _random((2, 2, 5, 4), 9)
    out = attention(q, k, v, 0.8)
    grads = mg.grad(out, [q, k, v], mg.tensor(g))
    qt, kt, vt = (torch.tensor(t.data, requires_grad=True) for t in (q, k, v))
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, scale=0.8)
    out_t.backward(torch.tensor(g))
    assert_close(out, out_t.detach().numpy())
    for got, want in zip(grads, (qt, kt, vt)):
        assert_close(got, want.grad.numpy())


# --------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------

def test_check_op_values_gradients_second_order_and_layouts():
    arrays = [_random(s, i) for i, s in enumerate([(2, 1, 3, 4), (2, 1, 5, 4), (2, 1, 5, 2)])]
    check_op(lambda q, k, v: attention(q, k, v, 0.5),
             lambda q, k, v: definition(q, k, v, 0.5)[0], *arrays)


def test_gradcheck_and_gradgradcheck_with_a_scale_and_three_dimensional_inputs():
    q, k, v = (t[:, 0].detach().requires_grad_() for t in _qkv(2, 1, 3, 4, 2, 3, seed=3))
    gradcheck(lambda q, k, v: attention(q, k, v, 1.3), [q, k, v])
    gradgradcheck(lambda q, k, v: attention(q, k, v, 1.3), [q, k, v])


def test_fused_first_order_gradients_equal_the_composed_ones():
    """Plain gradients run the registered "attention_backward"; recorded ones
    (create_graph=True) the composed Tensor ops. Both compute the same formulas."""
    q, k, v = _qkv(2, 3, 6, 5, 4, 3, seed=4, requires_grad=True)
    out = attention(q, k, v, 0.6)
    g = mg.tensor(_random(out.shape, 5))
    fused = mg.grad(out, [q, k, v], g, retain_graph=True)
    composed = mg.grad(out, [q, k, v], g, create_graph=True)
    assert all(t.requires_grad for t in composed) and not any(t.requires_grad for t in fused)
    for a, b in zip(fused, composed):
        assert_close(a, b.detach(), rtol=1e-12, atol=1e-13)


def test_only_the_wanted_gradients_are_returned():
    q, k, v = _qkv(1, 1, 3, 4, 2, 2, seed=6)
    k.requires_grad_()
    (dk,) = mg.grad(attention(q, k, v).sum(), [k])
    assert dk.shape == k.shape and q.grad is None


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

@settings(max_examples=8)
@given(nq=st.integers(1, 6), nk=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_permuting_keys_with_values_leaves_the_output_and_permuting_queries_permutes_it(
        nq, nk, seed):
    q, k, v = _qkv(2, 2, nq, nk, 3, 4, seed=seed)
    rng = np.random.default_rng(seed)
    keys, queries = rng.permutation(nk), rng.permutation(nq)
    out = attention(q, k, v, 0.9)
    assert_close(attention(q, k[:, :, keys], v[:, :, keys], 0.9), out, rtol=1e-12, atol=1e-12)
    assert_close(attention(q[:, :, queries], k, v, 0.9), out[:, :, queries], rtol=1e-12,
                 atol=1e-12)


def test_softmax_rows_sum_to_one_so_constant_values_pass_through():
    q, k, _ = _qkv(2, 2, 5, 7, 3, 1, seed=7)
    assert_close(attention(q, k, mg.ones(2, 2, 7, 4, dtype=mg.float64), 2.5),
                 np.ones((2, 2, 5, 4)), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_logits_give_finite_values_and_gradients(dtype):
    """scale q.k ~ 1e4, far beyond exp's range: rows are max-subtracted first."""
    q, k, v = _qkv(1, 2, 4, 6, 3, 2, dtype, seed=8, requires_grad=True)
    q.data *= 60
    k.data *= 60
    out = attention(q, k, v, 1.0)
    assert np.abs(q.data @ k.data.swapaxes(-1, -2)).max() > 5e3
    assert_close(out, definition(q.data, k.data, v.data, 1.0)[0], **VALUE_TOLERANCES[dtype])
    for g in mg.grad(out, [q, k, v], mg.ones(*out.shape, dtype=dtype)):
        assert np.isfinite(g.numpy()).all()


# --------------------------------------------------------------------------------------
# Empty inputs, dispatch, bad input
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 2, 3, 4, 4, 2), (2, 2, 0, 4, 4, 2)],
                         ids=["batch 0", "Nq 0"])
def test_empty_queries_call_no_implementation_and_give_zero_gradients(shape, monkeypatch):
    def refuse(*args):
        raise AssertionError("an implementation was called on empty input")
    for op in ("attention", "attention_backward"):
        monkeypatch.setattr(implementations(op)["numpy"], "fn", refuse)
    q, k, v = _qkv(*shape, requires_grad=True)
    with use_implementation("attention", "numpy"), \
            use_implementation("attention_backward", "numpy"):
        out = attention(q, k, v)
        grads = mg.grad(out.sum(), [q, k, v])
    assert out.shape == (*shape[:3], shape[5])
    for g, t in zip(grads, (q, k, v)):
        assert g.shape == t.shape and not g.numpy().any()


def test_values_of_width_zero_give_an_empty_output():
    q, k, v = _qkv(2, 1, 3, 4, 2, 0, requires_grad=True)
    out = attention(q, k, v)
    assert out.shape == (2, 1, 3, 0)
    dq, dk = mg.grad(out.sum(), [q, k])
    assert not dq.numpy().any() and not dk.numpy().any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_the_array_code_works_in_place_on_its_own_matrices_only(dtype):
    """attention_numpy and attention_backward_numpy reuse their (Nq, Nk) matrices in
    place and skip copies of inputs already in the accumulator dtype: the inputs must come
    out unchanged."""
    from minigan.ops.attention import attention_backward_numpy, attention_numpy
    rng = np.random.default_rng(2)
    q, k, v, go = (rng.standard_normal(shape).astype(dtype) for shape in
                   ((2, 1, 5, 3), (2, 1, 7, 3), (2, 1, 7, 4), (2, 1, 5, 4)))
    inputs = [q, k, v, go]
    before = [a.copy() for a in inputs]
    out, lse = attention_numpy(q, k, v, 0.5)
    out_before, lse_before = out.copy(), lse.copy()
    attention_backward_numpy(q, k, v, out, lse, go, 0.5)
    for a, b in zip(inputs + [out, lse], before + [out_before, lse_before]):
        np.testing.assert_array_equal(a, b)


def test_the_numpy_implementation_serves_the_cpu():
    assert implementation("attention", "cpu").name == "numpy"
    assert implementation("attention_backward", "cpu").name == "numpy"


def _bad(shapes, dtypes=(np.float64,) * 3):
    return [mg.tensor(np.zeros(s, dtype)) for s, dtype in zip(shapes, dtypes)]


@pytest.mark.parametrize("inputs, scale, error, message", [
    (_bad([(1, 3, 2), (1, 1, 4, 2), (1, 1, 4, 2)]), None, ValueError,
     r"must all be 4-D \(B, H, N, D\) or all 3-D \(B, N, D\), got q \(1, 3, 2\)"),
    (_bad([(1, 1, 3, 2, 1)] * 3), None, ValueError, r"must all be 4-D"),
    (_bad([(1, 1, 3, 2), (2, 1, 4, 2), (2, 1, 4, 2)]), None, ValueError,
     r"same batch \(and head\) sizes, got q \(1, 1, 3, 2\), k \(2, 1, 4, 2\)"),
    (_bad([(1, 2, 3, 2), (1, 1, 4, 2), (1, 1, 4, 2)]), None, ValueError,
     r"same batch \(and head\) sizes"),
    (_bad([(1, 1, 3, 2), (1, 1, 4, 3), (1, 1, 4, 2)]), None, ValueError,
     r"q and k must have the same feature size D, got 2 and 3"),
    (_bad([(1, 1, 3, 2), (1, 1, 4, 2), (1, 1, 5, 2)]), None, ValueError,
     r"k and v must have the same number of positions Nk, got 4 and 5"),
    (_bad([(1, 1, 3, 2), (1, 1, 0, 2), (1, 1, 0, 2)]), None, ValueError,
     r"needs at least one key and D >= 1"),
    (_bad([(1, 1, 3, 2)] * 3, (np.float64, np.float32, np.float64)), None, TypeError,
     r"share one floating-point dtype, got float64, float32, float64"),
    (_bad([(1, 1, 3, 2)] * 3, (np.int64,) * 3), None, TypeError,
     r"share one floating-point dtype, got int64"),
    (_bad([(1, 1, 3, 2)] * 3), float("nan"), ValueError,
     r"scale must be a finite real number, got nan"),
    (_bad([(1, 1, 3, 2)] * 3), "0.5", ValueError, r"scale must be a finite real number"),
    ([np.zeros((1, 1, 3, 2))] * 3, None, TypeError, r"q must be a Tensor, got ndarray"),
], ids=["3-D and 4-D", "5-D", "batch", "heads", "D", "Nk", "no keys", "mixed dtypes",
        "integers", "nan scale", "string scale", "arrays"])
def test_bad_input_is_refused_with_the_op_and_shapes(inputs, scale, error, message):
    with pytest.raises(error, match=r"scaled_dot_product_attention: .*" + message):
        attention(*inputs, scale)
