"""Fused scaled dot-product attention in Triton, forward and backward (flash attention).

The op of minigan/ops/attention.py: per batch and head, with S = scale Q K^T,

    out = softmax(S) V            lse_i = log sum_j exp(S_ij)
    q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv) -> out: (B, H, Nq, Dv), lse: (B, H, Nq)

computed without ever holding the (Nq, Nk) matrices S or P in memory: a program owns a
tile of BLOCK_M query rows and walks the keys in tiles of BLOCK_N.

Forward, online softmax. For each row the program keeps a running maximum m, a running
sum l = sum_j exp(S_ij - m) and an unnormalised output acc = sum_j exp(S_ij - m) V_j.
A new tile of keys with scores S_t raises the maximum to m' = max(m, rowmax(S_t)); what
was summed so far is rescaled by alpha = exp(m - m'), and the tile is added:

    l'   = alpha l   + rowsum(exp(S_t - m'))
    acc' = alpha acc + exp(S_t - m') V_t

After the last tile, out = acc / l and lse = m + log l. Every exponent is <= 0, so
nothing overflows, whatever the logits.

Backward (flash attention 2). P = exp(S - lse) is recomputed tile by tile from Q, K and
the saved lse, and with delta_i = sum_c dO_ic O_ic (= sum_j dP_ij P_ij):

    dV = P^T dO      dP = dO V^T      dS = P o (dP - delta)      dQ = scale dS K
    dK = scale dS^T Q

Two kernels, none of them with atomics (so the result does not depend on scheduling),
launched in this order:
  1. ``attention_dq_kernel``: a program owns BLOCK_M queries. It first computes delta for
     them from their O and dO tiles, and writes it out for kernel 2; then it walks all
     keys for dQ.
  2. ``attention_dkdv_kernel``: a program owns BLOCK_N keys, keeps their K and V tiles and
     the dK, dV accumulators, and walks all queries in tiles of BLOCK_M, reading their
     lse and delta.
P and dS are thus computed twice (once in each kernel), the price of having every output
tile written by exactly one program. delta needs no kernel of its own: the program that
owns a query tile already loads its dO.

Tiles. D and Dv need not be powers of two: the feature tiles are the next power of two
(at least 16, the smallest ``tl.dot``) and loads are masked, with zeros, which leave the
dot products unchanged. Partial tiles of queries and keys are masked too: a score outside
the sequences is set to -inf before the exponential, so its weight is exactly 0. (A key
padded with zeros is not enough: its P = exp(0 - lse) overflows when lse ~ -1e4.) When
the queries or the keys fill whole tiles (EVEN_M, EVEN_N: N = H W of an 8 x 8 map or a
larger square power of two, with tiles of 64 rows), the kernel is compiled without those
masks.

Precision. The sums (m, l, acc, lse, delta and the gradient accumulators) are float32
for float16 and float32 inputs, float64 for float64 inputs. float32 products use TF32
tensor cores when ``ALLOW_TF32`` (on by default, as in kernels/conv.py); the interpreter
(``TRITON_INTERPRET=1``) ignores the flag and multiplies in full float32. P and dS are
rounded to the input dtype before their products (float16 tensor cores for float16).
The scale reaches the kernels as two float32 arguments, hi + lo (Triton passes a Python
float as float32), which carry it to float64 accuracy.

Exponentials in base 2. With float32 sums, the kernels work with scores in base-2 units,
S log2(e) (log2(e) folded into the scale, one multiply per score), and take
exp(S - m) = 2^(S log2 e - m log2 e): one ex2 instruction of the GPU per score, where exp
would multiply by log2(e) first and then guard its range. The saved lse stays in natural
units. float64 keeps exp: its range reduction is exact to the last bits of a score far
from 0 (1e4), which a rounded product S log2(e) is not.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import triton
import triton.language as tl

from minigan.backend import dtype_name
from minigan.kernels.arrays import KernelArg, cdiv, launch, next_power_of_2

ALLOW_TF32 = True
MAX_HEAD_DIM = 256          # D and Dv: a program keeps whole rows of q, k, v, out in registers


@triton.jit
def _base(ACC: tl.constexpr):
    """log2(e) for float32 sums, whose exponentials are in base 2; 1 for float64, whose
    exponentials are natural (module docstring): a score or lse times this is in the
    units of ``_exp``."""
    if ACC == tl.float64:
        return 1.0
    else:
        return 1.4426950408889634


@triton.jit
def _exp(x, ACC: tl.constexpr):
    """e^(x / _base(ACC)): 2^x for float32 sums, e^x for float64."""
    if ACC == tl.float64:
        return tl.exp(x)
    else:
        return tl.exp2(x)


@triton.jit
def _log(x, ACC: tl.constexpr):
    """The inverse of ``_exp``: log2(x) for float32 sums, log(x) for float64."""
    if ACC == tl.float64:
        return tl.log(x)
    else:
        return tl.log2(x)


@triton.jit
def attention_forward_kernel(
    # pointers
    q_ptr, k_ptr, v_ptr, out_ptr, lse_ptr,
    # sizes
    H, Nq, Nk, D, Dv,
    # strides, in elements
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_ob, stride_oh, stride_on, stride_od,
    # the scale as a sum of two float32s (float kernel arguments are float32)
    scale_hi, scale_lo,
    # meta-parameters
    ACC: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    BLOCK_DV: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
    SCALE_SIGN: tl.constexpr,
):
    """out and lse for BLOCK_M query rows of one (batch, head).

    SCALE_SIGN, the sign of the scale (1, -1 or 0): the running maximum of the scaled
    scores is taken on the raw ones, max_j(c S_j) = c max_j S_j for c > 0 (c min_j S_j
    for c < 0), the same float either way since rounding keeps the order. The scale then
    multiplies each score once, inside exp's argument c S - m (one fused multiply-add),
    rather than once for the maximum and again for the exponential."""
    tiles = tl.cdiv(Nq, BLOCK_M)
    pid_m = tl.program_id(0) % tiles
    bh = tl.program_id(0) // tiles
    b = bh // H
    h = bh % H
    scale = tl.cast(scale_hi, ACC) + tl.cast(scale_lo, ACC)
    score_scale = scale * _base(ACC)                        # S in the units of _exp

    # -- the query tile, loaded once ---------------------------------------------------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    valid_m = offs_m < Nq
    q = tl.load(q_ptr + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qn
                + offs_d[None, :] * stride_qd,
                mask=valid_m[:, None] & (offs_d[None, :] < D), other=0.0)
    k_base = k_ptr + b * stride_kb + h * stride_kh
    v_base = v_ptr + b * stride_vb + h * stride_vh

    # -- online softmax over tiles of keys ---------------------------------------------
    m_i = tl.full([BLOCK_M], float("-inf"), ACC)
    l_i = tl.zeros([BLOCK_M], ACC)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], ACC)
    for n0 in range(0, Nk, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        valid_n = (offs_n < Nk) | EVEN_N             # EVEN_N: every key tile is full
        k = tl.load(k_base + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd,
                    mask=valid_n[:, None] & (offs_d[None, :] < D), other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION, out_dtype=ACC)
        if SCALE_SIGN > 0:                        # a key out of range scales to -inf
            s = tl.where(valid_n[None, :], s, float("-inf"))           # (BLOCK_M, BLOCK_N)
            extreme = tl.max(s, 1) * score_scale
        elif SCALE_SIGN < 0:
            s = tl.where(valid_n[None, :], s, float("inf"))
            extreme = tl.min(s, 1) * score_scale
        else:                                     # every score is 0, or -inf out of range
            s = tl.where(valid_n[None, :], s * score_scale, float("-inf"))
            extreme = tl.max(s, 1)
        m_new = tl.maximum(m_i, extreme)          # finite: each tile has a key in range
        alpha = _exp(m_i - m_new, ACC)            # exp(-inf) = 0 on the first tile
        if SCALE_SIGN == 0:
            p = _exp(s - m_new[:, None], ACC)
        else:
            p = _exp(s * score_scale - m_new[:, None], ACC)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_base + offs_n[:, None] * stride_vn + offs_dv[None, :] * stride_vd,
                    mask=valid_n[:, None] & (offs_dv[None, :] < Dv), other=0.0)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=PRECISION,
                     out_dtype=ACC)
        m_i = m_new

    # -- normalise and write -----------------------------------------------------------
    tl.store(out_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_on
             + offs_dv[None, :] * stride_od,
             (acc / l_i[:, None]).to(out_ptr.dtype.element_ty),
             mask=valid_m[:, None] & (offs_dv[None, :] < Dv))
    tl.store(lse_ptr + bh * Nq + offs_m, (m_i + _log(l_i, ACC)) / _base(ACC), mask=valid_m)


@triton.jit
def attention_dkdv_kernel(
    # pointers
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
    # sizes
    H, Nq, Nk, D, Dv,
    # strides, in elements
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_dob, stride_doh, stride_don, stride_dod,
    stride_dkb, stride_dkh, stride_dkn, stride_dkd,
    stride_dvb, stride_dvh, stride_dvn, stride_dvd,
    # the scale as a sum of two float32s
    scale_hi, scale_lo,
    # meta-parameters
    ACC: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    BLOCK_DV: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
):
    """dK and dV for BLOCK_N keys of one (batch, head), summed over every query.

    Works with transposed tiles (keys down, queries across), so that P^T and dS^T, the
    left operands of dV = P^T dO and dK = scale dS^T Q, come out of the products as they
    are needed."""
    tiles = tl.cdiv(Nk, BLOCK_N)
    pid_n = tl.program_id(0) % tiles
    bh = tl.program_id(0) // tiles
    b = bh // H
    h = bh % H
    scale = tl.cast(scale_hi, ACC) + tl.cast(scale_lo, ACC)
    score_scale = scale * _base(ACC)                        # S in the units of _exp

    # -- this program's keys and values, loaded once -----------------------------------
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    valid_n = (offs_n < Nk) | EVEN_N                 # EVEN_N: every key tile is full
    k_mask = valid_n[:, None] & (offs_d[None, :] < D)
    v_mask = valid_n[:, None] & (offs_dv[None, :] < Dv)
    k = tl.load(k_ptr + b * stride_kb + h * stride_kh + offs_n[:, None] * stride_kn
                + offs_d[None, :] * stride_kd, mask=k_mask, other=0.0)
    v = tl.load(v_ptr + b * stride_vb + h * stride_vh + offs_n[:, None] * stride_vn
                + offs_dv[None, :] * stride_vd, mask=v_mask, other=0.0)
    q_base = q_ptr + b * stride_qb + h * stride_qh
    do_base = do_ptr + b * stride_dob + h * stride_doh

    dk = tl.zeros([BLOCK_N, BLOCK_D], ACC)
    dv = tl.zeros([BLOCK_N, BLOCK_DV], ACC)
    for m0 in range(0, Nq, BLOCK_M):
        # -- a tile of queries with their output gradients, lse and delta ------------------
        offs_m = m0 + tl.arange(0, BLOCK_M)
        valid_m = (offs_m < Nq) | EVEN_M             # EVEN_M: every query tile is full
        q = tl.load(q_base + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd,
                    mask=valid_m[:, None] & (offs_d[None, :] < D), other=0.0)
        do = tl.load(do_base + offs_m[:, None] * stride_don + offs_dv[None, :] * stride_dod,
                     mask=valid_m[:, None] & (offs_dv[None, :] < Dv), other=0.0)
        lse = tl.load(lse_ptr + bh * Nq + offs_m, mask=valid_m, other=0.0) * _base(ACC)
        delta = tl.load(delta_ptr + bh * Nq + offs_m, mask=valid_m, other=0.0)

        # -- P^T = exp(S^T - lse), exactly zero outside the sequences -------------------
        s_t = tl.dot(k, tl.trans(q), input_precision=PRECISION, out_dtype=ACC) * score_scale
        inside = valid_n[:, None] & valid_m[None, :]                   # (BLOCK_N, BLOCK_M)
        p_t = _exp(tl.where(inside, s_t - lse[None, :], float("-inf")), ACC)
        dv = tl.dot(p_t.to(do.dtype), do, dv, input_precision=PRECISION, out_dtype=ACC)

        # -- dS^T = P^T o (dP^T - delta),  dP^T = V dO^T ---------------------------------
        dp_t = tl.dot(v, tl.trans(do), input_precision=PRECISION, out_dtype=ACC)
        ds_t = p_t * (dp_t - delta[None, :])
        dk = tl.dot(ds_t.to(q.dtype), q, dk, input_precision=PRECISION, out_dtype=ACC)

    tl.store(dk_ptr + b * stride_dkb + h * stride_dkh + offs_n[:, None] * stride_dkn
             + offs_d[None, :] * stride_dkd, (dk * scale).to(dk_ptr.dtype.element_ty),
             mask=k_mask)
    tl.store(dv_ptr + b * stride_dvb + h * stride_dvh + offs_n[:, None] * stride_dvn
             + offs_dv[None, :] * stride_dvd, dv.to(dv_ptr.dtype.element_ty), mask=v_mask)


@triton.jit
def attention_dq_kernel(
    # pointers
    q_ptr, k_ptr, v_ptr, out_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr,
    # sizes
    H, Nq, Nk, D, Dv,
    # strides, in elements
    stride_qb, stride_qh, stride_qn, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_ob, stride_oh, stride_on, stride_od,
    stride_dob, stride_doh, stride_don, stride_dod,
    stride_dqb, stride_dqh, stride_dqn, stride_dqd,
    # the scale as a sum of two float32s
    scale_hi, scale_lo,
    # meta-parameters
    ACC: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    BLOCK_DV: tl.constexpr, EVEN_M: tl.constexpr, EVEN_N: tl.constexpr,
):
    """delta_i = sum_c dO_ic O_ic, then dQ summed over every key, for BLOCK_M queries of
    one (batch, head)."""
    tiles = tl.cdiv(Nq, BLOCK_M)
    pid_m = tl.program_id(0) % tiles
    bh = tl.program_id(0) // tiles
    b = bh // H
    h = bh % H
    scale = tl.cast(scale_hi, ACC) + tl.cast(scale_lo, ACC)
    score_scale = scale * _base(ACC)                        # S in the units of _exp

    # -- this program's queries, output gradients and lse, loaded once ------------------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    valid_m = offs_m < Nq
    q_mask = valid_m[:, None] & (offs_d[None, :] < D)
    o_mask = valid_m[:, None] & (offs_dv[None, :] < Dv)
    q = tl.load(q_ptr + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qn
                + offs_d[None, :] * stride_qd, mask=q_mask, other=0.0)
    do = tl.load(do_ptr + b * stride_dob + h * stride_doh + offs_m[:, None] * stride_don
                 + offs_dv[None, :] * stride_dod, mask=o_mask, other=0.0)
    lse = tl.load(lse_ptr + bh * Nq + offs_m, mask=valid_m, other=0.0) * _base(ACC)

    # -- delta = rowsum(dO o O), here and for the dK/dV kernel -------------------------
    o = tl.load(out_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_on
                + offs_dv[None, :] * stride_od, mask=o_mask, other=0.0)
    delta = tl.sum(o.to(ACC) * do.to(ACC), 1)
    tl.store(delta_ptr + bh * Nq + offs_m, delta, mask=valid_m)

    k_base = k_ptr + b * stride_kb + h * stride_kh
    v_base = v_ptr + b * stride_vb + h * stride_vh

    dq = tl.zeros([BLOCK_M, BLOCK_D], ACC)
    for n0 in range(0, Nk, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        valid_n = (offs_n < Nk) | EVEN_N             # EVEN_N: every key tile is full
        k = tl.load(k_base + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd,
                    mask=valid_n[:, None] & (offs_d[None, :] < D), other=0.0)
        v = tl.load(v_base + offs_n[:, None] * stride_vn + offs_dv[None, :] * stride_vd,
                    mask=valid_n[:, None] & (offs_dv[None, :] < Dv), other=0.0)
        # -- P = exp(S - lse), exactly zero for keys outside the sequence ---------------
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION, out_dtype=ACC) * score_scale
        p = _exp(tl.where(valid_n[None, :], s - lse[:, None], float("-inf")), ACC)
        # -- dS = P o (dP - delta),  dP = dO V^T;  dQ += dS K ------------------------------
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION, out_dtype=ACC)
        ds = p * (dp - delta[:, None])
        dq = tl.dot(ds.to(k.dtype), k, dq, input_precision=PRECISION, out_dtype=ACC)

    tl.store(dq_ptr + b * stride_dqb + h * stride_dqh + offs_m[:, None] * stride_dqn
             + offs_d[None, :] * stride_dqd, (dq * scale).to(dq_ptr.dtype.element_ty),
             mask=q_mask)


# --------------------------------------------------------------------------------------
# Launchers: check, allocate, grid, launch
# --------------------------------------------------------------------------------------

_DTYPES = ("float16", "float32", "float64")


def _accumulator(dtype: Any) -> str:
    return "float64" if dtype_name(dtype) == "float64" else "float32"


def _meta(dtype: Any) -> dict:
    """Accumulator type and dot precision for the input dtype."""
    if dtype_name(dtype) == "float64":
        return dict(ACC=tl.float64, PRECISION="ieee")
    precision = "tf32" if ALLOW_TF32 and dtype_name(dtype) == "float32" else "ieee"
    return dict(ACC=tl.float32, PRECISION=precision)


def _feature_block(size: int) -> int:
    """The feature tile: the next power of two, at least 16 (the smallest tl.dot)."""
    return max(16, next_power_of_2(size))


def config(d: int, dv: int, itemsize: int) -> dict:
    """Tile sizes and warps for feature sizes d, dv of ``itemsize``-byte elements.

    A program streams tiles of rows of k and v (or of q and dO): each such tile is kept
    within 32 KB, so that the three stages of Triton's pipelined loads fit in shared
    memory. Four warps (one warpgroup) up to rows of 128 features: the 64 rows of a tile
    are one warpgroup's MMA on an H100, and a second warpgroup would only split the
    columns of the products, each computing the whole softmax of the tile again (twice
    the instructions per tile: bench/compiled_kernels.py). Eight warps past 128 features,
    whose accumulators do not fit one warpgroup's registers without spilling."""
    block_d, block_dv = _feature_block(d), _feature_block(dv)
    rows = max(16, min(64, 32768 // (max(block_d, block_dv) * itemsize)))
    return dict(BLOCK_M=rows, BLOCK_N=rows, BLOCK_D=block_d, BLOCK_DV=block_dv,
                num_warps=4 if max(block_d, block_dv) <= 128 else 8)


def _scale_parts(op: str, scale: float) -> tuple[float, float]:
    """scale = hi + lo with hi, lo float32: 48 significant bits, enough for float64, for
    any scale of magnitude in [2^-100, 2^100] (so that lo is a normal float32), or 0."""
    if scale != 0 and not 2.0 ** -100 <= abs(scale) <= 2.0 ** 100:
        raise ValueError(f"{op} (triton): scale {scale!r} is outside the magnitudes "
                         "[2^-100, 2^100] that the kernels take (as two float32s); use the "
                         "numpy implementation")
    hi = float(np.float32(scale))
    return hi, float(np.float32(scale - hi))


def _strides(array: Any) -> tuple[int, ...]:
    return tuple(s // array.itemsize for s in array.strides)


def _addressable(a: Any, xp: Any) -> Any:
    """``a`` itself when the kernels can read it through its strides (every element at a
    non-negative int32 offset from the first: any view that does not run backwards, of
    fewer than 2^31 elements' reach), else a contiguous copy. SAGAN hands over views of
    its 1x1 convolutions' outputs, (B, C', H W) seen as (B, 1, H W, C'): positions
    innermost. The kernels read those about as well as rows (BENCHMARKS.md compares
    their loops both ways), so a copy would cost a pass over each and an array call for
    little."""
    strides = _strides(a)
    reach = sum((n - 1) * s for n, s in zip(a.shape, strides))
    if a.size and min(strides) >= 0 and reach < 2 ** 31:
        return a
    return xp.ascontiguousarray(a)


def _shapes(arrays: tuple[Any, ...]) -> str:
    """The shapes for an error message, built only when one is raised."""
    return ", ".join(str(tuple(a.shape)) for a in arrays)


def _check(op: str, q: Any, k: Any, v: Any, *others: Any) -> None:
    """Shapes (B, H, Nq, D), (B, H, Nk, D), (B, H, Nk, Dv) and, for the backward, out
    and grad_out (B, H, Nq, Dv); one supported dtype; int32-addressable sizes."""
    arrays = (q, k, v, *others)
    dtypes = {dtype_name(a.dtype) for a in arrays}
    if len(dtypes) != 1 or not dtypes <= set(_DTYPES):
        raise TypeError(f"{op} (triton): needs float16, float32 or float64 arrays of one "
                        f"dtype, got {sorted(dtypes)}")
    if any(a.ndim != 4 for a in arrays):
        raise ValueError(f"{op} (triton): needs 4-D (B, H, N, D) arrays, got shapes "
                         f"{_shapes(arrays)}")
    b, h, nq, d = q.shape
    nk, dv = v.shape[2], v.shape[3]
    if (tuple(k.shape) != (b, h, nk, d) or tuple(v.shape[:2]) != (b, h)
            or any(tuple(a.shape) != (b, h, nq, dv) for a in others)):
        raise ValueError(f"{op} (triton): shapes do not fit q (B, H, Nq, D), k (B, H, Nk, D), "
                         f"v (B, H, Nk, Dv), out and grad_out (B, H, Nq, Dv): got "
                         f"{_shapes(arrays)}")
    if nk == 0:
        raise ValueError(f"{op} (triton): needs at least one key, got shapes "
                         f"{_shapes(arrays)}")
    if max(d, dv) > MAX_HEAD_DIM:
        raise ValueError(f"{op} (triton): feature sizes D = {d} and Dv = {dv} must be at most "
                         f"{MAX_HEAD_DIM} (a program keeps whole rows); use the numpy "
                         "implementation for wider heads")
    for a in arrays:
        if a.size >= 2 ** 31:
            raise ValueError(f"{op} (triton): an array of shape {tuple(a.shape)} has more "
                             "than 2^31 elements; the kernels index with int32")


def _output(op: str, name: str, given: Any, shape: tuple[int, ...], dtype: str, xp: Any
            ) -> Any:
    """A new output, or the caller's (tests pass one filled with NaN)."""
    if given is None:
        return xp.empty(shape, dtype=dtype)
    if tuple(given.shape) != tuple(shape) or dtype_name(given.dtype) != dtype:
        raise ValueError(f"{op} (triton): {name} has shape {tuple(given.shape)} and dtype "
                         f"{given.dtype}, expected {tuple(shape)} and {dtype}")
    if name == "lse" and not given.flags.c_contiguous:
        raise ValueError(f"{op} (triton): {name} must be contiguous")
    return given


def _tiles(blocks: dict | None, d: int, dv: int, dtype: Any, nq: int, nk: int
           ) -> tuple[dict, int]:
    """The meta-parameters (``config``, with the caller's ``blocks`` on top, and whether
    the queries and the keys fill whole tiles: the kernels then compute no mask for them)
    and warps."""
    meta = dict(config(d, dv, np.dtype(dtype).itemsize), **(blocks or {}))
    meta.update(EVEN_M=nq % meta["BLOCK_M"] == 0, EVEN_N=nk % meta["BLOCK_N"] == 0)
    return meta, meta.pop("num_warps")


def attention(q: Any, k: Any, v: Any, scale: float, xp: Any, out: Any = None,
              lse: Any = None, blocks: dict | None = None) -> tuple[Any, Any]:
    """(out, lse) = (softmax(scale Q K^T) V, logsumexp(scale Q K^T)).

    q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv) -> out: (B, H, Nq, Dv) in q's
    dtype, lse: (B, H, Nq) in float32 (float64 for float64 inputs). ``blocks`` overrides
    the tile sizes of ``config`` (tests use small tiles in the interpreter)."""
    op = "attention"
    _check(op, q, k, v)
    q, k, v = (_addressable(a, xp) for a in (q, k, v))
    b, h, nq, d = q.shape
    nk, dv = v.shape[2:]
    out = _output(op, "out", out, (b, h, nq, dv), dtype_name(q.dtype), xp)
    lse = _output(op, "lse", lse, (b, h, nq), _accumulator(q.dtype), xp)
    if lse.size == 0:
        return out, lse
    meta, warps = _tiles(blocks, d, dv, q.dtype, nq, nk)
    grid = (cdiv(nq, meta["BLOCK_M"]) * b * h,)
    launch(op, attention_forward_kernel, grid, meta)(
        KernelArg(q), KernelArg(k), KernelArg(v), KernelArg(out), KernelArg(lse),
        h, nq, nk, d, dv,
        *_strides(q), *_strides(k), *_strides(v), *_strides(out),
        *_scale_parts(op, scale),
        **_meta(q.dtype), **meta, SCALE_SIGN=(scale > 0) - (scale < 0), num_warps=warps)
    return out, lse


def attention_backward(q: Any, k: Any, v: Any, out: Any, lse: Any, grad_out: Any,
                       scale: float, xp: Any, dq: Any = None, dk: Any = None,
                       dv: Any = None, blocks: dict | None = None) -> tuple[Any, Any, Any]:
    """(dq, dk, dv) of ``attention`` for the output gradient grad_out: (B, H, Nq, Dv),
    from its saved out and lse; each gradient has its input's shape and dtype."""
    op = "attention_backward"
    _check(op, q, k, v, out, grad_out)
    acc = _accumulator(q.dtype)
    if tuple(lse.shape) != tuple(q.shape[:3]) or dtype_name(lse.dtype) != acc:
        raise ValueError(f"{op} (triton): lse must have shape {tuple(q.shape[:3])} and dtype "
                         f"{acc}, got {tuple(lse.shape)} and {lse.dtype}")
    q, k, v, out, grad_out = (_addressable(a, xp) for a in (q, k, v, out, grad_out))
    lse = xp.ascontiguousarray(lse)
    b, h, nq, d = q.shape
    nk, width = v.shape[2:]
    dtype = dtype_name(q.dtype)
    dq = _output(op, "dq", dq, q.shape, dtype, xp)
    dk = _output(op, "dk", dk, k.shape, dtype, xp)
    dv = _output(op, "dv", dv, v.shape, dtype, xp)
    if b * h == 0:
        return dq, dk, dv
    if nq == 0:                             # no query: nothing flows back to k and v
        dk[...] = 0
        dv[...] = 0
        return dq, dk, dv
    meta, warps = _tiles(blocks, d, width, q.dtype, nq, nk)
    strides_q, strides_k, strides_v, strides_o, strides_do = (
        _strides(a) for a in (q, k, v, out, grad_out))
    scale_parts = _scale_parts(op, scale)

    delta = xp.empty((b, h, nq), dtype=acc)               # written by the dQ kernel
    launch(op, attention_dq_kernel, (cdiv(nq, meta["BLOCK_M"]) * b * h,), meta)(
        KernelArg(q), KernelArg(k), KernelArg(v), KernelArg(out), KernelArg(grad_out),
        KernelArg(lse), KernelArg(delta), KernelArg(dq),
        h, nq, nk, d, width, *strides_q, *strides_k, *strides_v, *strides_o, *strides_do,
        *_strides(dq), *scale_parts,
        **_meta(q.dtype), **meta, num_warps=warps)
    launch(op, attention_dkdv_kernel, (cdiv(nk, meta["BLOCK_N"]) * b * h,), meta)(
        KernelArg(q), KernelArg(k), KernelArg(v), KernelArg(grad_out), KernelArg(lse),
        KernelArg(delta), KernelArg(dk), KernelArg(dv),
        h, nq, nk, d, width, *strides_q, *strides_k, *strides_v, *strides_do,
        *_strides(dk), *_strides(dv), *scale_parts,
        **_meta(q.dtype), **meta, num_warps=warps)
    return dq, dk, dv
