"""Spectral normalization's power iteration in Triton: one launch per step.

The op of minigan/ops/spectral.py. W: (M, N) (a conv weight reshaped to (C_out, C_in kh kw),
or a linear weight (out, in)), u: (M,); one step is

    v = normalize(W^T u);   u = normalize(W v);     normalize(x) = x / max(||x||_2, eps)

and sigma = u^T W v with the final u and v. Written around t = W^T u, by linearity:

    t  = W^T u                                  (N,)
    v  = t / max(||t||, eps)                    (N,)
    Wv = (W t) / max(||t||, eps)                (M,)    W v, from the unnormalized t
    u  = Wv / max(||Wv||, eps)                  (M,)
    sigma = u^T Wv = ||Wv||^2 / max(||Wv||, eps)        (= ||Wv|| unless ||Wv|| < eps)

so the only grid-wide quantities are the sums W t and ||t||^2, and both can be formed
before anyone knows ||t||.

The work split: program p owns a slab of BLOCK_N columns, W[:, cols_p]: (M, BLOCK_N).
  1. t[cols_p] = W[:, cols_p]^T u: complete entries of t, since every row of those
     columns is in the slab (walked in BLOCK_M-row tiles). Stored in v (unnormalized),
     and ||t[cols_p]||^2 in norms[p].
  2. z_p = W[:, cols_p] t[cols_p]: (M,), this slab's share of W t = sum_p z_p, stored in
     the scratch part[p, :]. The slab is read a second time, from L2 (just read by pass 1).
  3. Arrive: a counter incremented with an acq_rel atomic. The last program to arrive sees
     every other program's stores (each made them before its release; the barrier before
     the atomic orders all of its threads' stores, as CUTLASS's semaphores do), and
     finishes the step: ||t||^2 = sum_p norms[p], W t = sum_p part[p, :], then u, sigma,
     v scaled in place, and the counter reset to 0 for the next launch.
Every sum runs in a fixed order: results are the same bit for bit on every run.

Why this design (W up to 512 x 4608 float32 = 9.4 MB for DCGAN/SAGAN convs, 1024 x 1024
for linears; a step reads W twice and touches nothing else of that size):
  - One program walking all of W needs no cross-program reduction, but it streams W
    through one SM of 132: the whole step would wait on a small fraction of the GPU's
    memory bandwidth.
  - Row slabs: W^T u would need a grid-wide sum before W v could start, i.e. a second
    launch per step (or a grid barrier, which Triton lacks). Column slabs make the first
    product local and leave only sums that commute with the normalization.
  - Atomic adds of z_p into a zeroed W t buffer would spare the last program its read of
    the P x M partials, but the rounding order would change from run to run and the
    buffer would need zeroing every step. With P at most the SM count, the partials are
    P x M values (float32: 150 KB at 512 x 4608, 330 KB at 768 x 6912), read once by one
    program from L2; kept, for determinism.
  - Several steps in one launch would need a grid-wide barrier between steps (each step
    needs the previous step's complete u); spinning on a counter deadlocks when not all
    programs are resident. So the launcher loops: n_iterations launches, one per step;
    u is updated in place (the last program writes it only after every program is done
    reading it).
The expected cost of a step is a few microseconds of memory traffic plus one launch,
against about ten launches (products, norms, maxima, divisions) for the same math as
separate array calls; bench/gpu_power_iteration.py measures both.

BLOCK_N is chosen so that about one slab per SM runs (PROGRAMS); a tall thin W (few
columns, e.g. a linear layer from a 20-dim z) gets few programs. Accumulation is float32
(float64 for float64 weights; float16 weights load as float16 and accumulate in float32);
u, v and sigma are kept in the accumulator dtype across steps and cast once at the end.
"""
from __future__ import annotations

from typing import Any

import triton
import triton.language as tl

from minigan.backend import dtype_name
from minigan.kernels.arrays import KernelArg, cdiv, launch, next_power_of_2

PROGRAMS = 132   # an H100's SM count: aim for about one column slab per SM
TILE = 8192      # elements of a (BLOCK_M, BLOCK_N) tile: 32 per thread with 8 warps,
NUM_WARPS = 8    # 32 KB of float32 loads in flight per SM (one program per SM)


@triton.jit
def power_iteration_step_kernel(
    # pointers
    w_ptr, u_in_ptr, u_ptr, v_ptr, sigma_ptr, part_ptr, norms_ptr, counter_ptr,
    # sizes
    M, N,
    # strides, in elements
    stride_wm, stride_wn,
    # the floor of the norms
    eps: tl.float64,
    # meta-parameters
    ACC: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One step for column slab program_id(0); the last program to arrive finishes it.

    u_in: (M,) the step's input (may be u itself); u, v: (M,), (N,) and sigma () outputs;
    part: (P, M) and norms: (P,) scratch; counter: (1,) int32, 0 at launch and on exit.
    """
    pid = tl.program_id(0)
    programs = tl.num_programs(0)
    floor = tl.cast(eps, ACC)
    offs_n = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = offs_n < N

    # -- pass 1: t = W[:, slab]^T u, accumulated tile by tile, reduced once -------------
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for m0 in range(0, M, BLOCK_M):
        offs_m = m0 + tl.arange(0, BLOCK_M)
        m_mask = offs_m < M
        w = tl.load(w_ptr + offs_m[:, None] * stride_wm + offs_n[None, :] * stride_wn,
                    mask=m_mask[:, None] & n_mask[None, :], other=0.0).to(ACC)
        u = tl.load(u_in_ptr + offs_m, mask=m_mask, other=0.0).to(ACC)
        acc += w * u[:, None]
    t = tl.sum(acc, axis=0)                                         # (BLOCK_N,), 0 past N
    tl.store(v_ptr + offs_n, t, mask=n_mask)
    tl.store(norms_ptr + pid, tl.sum(t * t, axis=0))

    # -- pass 2: this slab's share of W t --------------------------------------------
    for m0 in range(0, M, BLOCK_M):
        offs_m = m0 + tl.arange(0, BLOCK_M)
        m_mask = offs_m < M
        w = tl.load(w_ptr + offs_m[:, None] * stride_wm + offs_n[None, :] * stride_wn,
                    mask=m_mask[:, None] & n_mask[None, :], other=0.0).to(ACC)
        tl.store(part_ptr + pid * M + offs_m, tl.sum(w * t[None, :], axis=1), mask=m_mask)

    # -- arrive: every thread's stores above, then one release-acquire increment --------
    tl.debug_barrier()
    arrived = tl.atomic_add(counter_ptr, 1, sem="acq_rel", scope="gpu")
    if arrived == programs - 1:
        # -- the last program: ||t||^2 over the slabs, in slab order ------------------
        # (.cg loads: read at L2, where the other programs' stores are)
        total = tl.zeros((BLOCK_N,), dtype=ACC)
        for p0 in range(0, programs, BLOCK_N):
            offs_p = p0 + tl.arange(0, BLOCK_N)
            total += tl.load(norms_ptr + offs_p, mask=offs_p < programs, other=0.0,
                             cache_modifier=".cg")
        inv_t = 1.0 / tl.maximum(tl.sqrt(tl.sum(total, axis=0)), floor)

        # -- Wv = (sum_p part[p, :]) / max(||t||, eps), into u for now; ||Wv||^2 ------
        squares = tl.zeros((BLOCK_M,), dtype=ACC)
        for m0 in range(0, M, BLOCK_M):
            offs_m = m0 + tl.arange(0, BLOCK_M)
            m_mask = offs_m < M
            z = tl.zeros((BLOCK_N, BLOCK_M), dtype=ACC)            # (slabs, rows)
            for p0 in range(0, programs, BLOCK_N):
                offs_p = p0 + tl.arange(0, BLOCK_N)
                z += tl.load(part_ptr + offs_p[:, None] * M + offs_m[None, :],
                             mask=(offs_p[:, None] < programs) & m_mask[None, :], other=0.0,
                             cache_modifier=".cg")
            wv = tl.sum(z, axis=0) * inv_t                          # (BLOCK_M,), 0 past M
            squares += wv * wv
            tl.store(u_ptr + offs_m, wv, mask=m_mask)
        wv_squared = tl.sum(squares, axis=0)
        inv_wv = 1.0 / tl.maximum(tl.sqrt(wv_squared), floor)
        tl.store(sigma_ptr, wv_squared * inv_wv)                    # u^T Wv

        # -- u = Wv / max(||Wv||, eps) and v = t / max(||t||, eps), in place ----------
        tl.debug_barrier()                  # this program's stores of Wv, before reloads
        for m0 in range(0, M, BLOCK_M * BLOCK_N):
            offs = m0 + tl.arange(0, BLOCK_M * BLOCK_N)
            mask = offs < M
            unscaled_u = tl.load(u_ptr + offs, mask=mask, other=0.0, cache_modifier=".cg")
            tl.store(u_ptr + offs, unscaled_u * inv_wv, mask=mask)
        for n0 in range(0, N, BLOCK_M * BLOCK_N):
            offs = n0 + tl.arange(0, BLOCK_M * BLOCK_N)
            mask = offs < N
            unscaled_v = tl.load(v_ptr + offs, mask=mask, other=0.0, cache_modifier=".cg")
            tl.store(v_ptr + offs, unscaled_v * inv_t, mask=mask)
        tl.store(counter_ptr, 0)                                    # ready for next launch


# --------------------------------------------------------------------------------------
# Launcher: check, allocate, grid, launch
# --------------------------------------------------------------------------------------

def _check(weight: Any, u: Any, n_iterations: int, eps: float) -> None:
    op = "spectral_norm_power_iteration (triton)"
    if weight.ndim != 2 or u.ndim != 1 or u.shape[0] != weight.shape[0]:
        raise ValueError(f"{op}: needs weight (M, N) and u (M,), got {tuple(weight.shape)} "
                         f"and {tuple(u.shape)}")
    if weight.size == 0:
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} has no elements")
    dtypes = {dtype_name(weight.dtype), dtype_name(u.dtype)}
    if len(dtypes) != 1 or not dtypes <= {"float16", "float32", "float64"}:
        raise TypeError(f"{op}: needs float16, float32 or float64 arrays of one dtype, got "
                        f"weight {weight.dtype} and u {u.dtype}")
    span = sum((d - 1) * abs(s) for d, s in zip(weight.shape, weight.strides))
    if span // weight.itemsize >= 2 ** 31:
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} spans more than 2^31 "
                         "elements; the kernel indexes with int32")
    if n_iterations < 1 or not eps > 0:
        raise ValueError(f"{op}: needs n_iterations >= 1 and eps > 0, got {n_iterations} "
                         f"and {eps}")


def blocks(m: int, n: int) -> tuple[int, int]:
    """(BLOCK_M, BLOCK_N): about PROGRAMS column slabs of 16 to 256 columns, and row
    tiles of TILE elements (no taller than W, rounded up to a power of two)."""
    block_n = min(max(16, next_power_of_2(cdiv(n, PROGRAMS))), 256)
    block_m = min(max(16, next_power_of_2(m)), TILE // block_n)
    return block_m, block_n


def spectral_norm_power_iteration(weight: Any, u: Any, n_iterations: int, eps: float,
                                  xp: Any, block_m: int | None = None,
                                  block_n: int | None = None) -> tuple[Any, Any, Any]:
    """n_iterations steps from u, one launch each.   weight: (M, N), u: (M,) ->
    (u (M,), v (N,), sigma ()) in weight's dtype. ``block_m``/``block_n`` (powers of two)
    override the tile (the tests use small ones to exercise many slabs and partial tiles).
    """
    _check(weight, u, n_iterations, eps)
    u = xp.ascontiguousarray(u)                             # the kernel reads u with stride 1
    m, n = weight.shape
    default_m, default_n = blocks(m, n)
    block_m, block_n = block_m or default_m, block_n or default_n
    programs = cdiv(n, block_n)
    acc = "float64" if dtype_name(weight.dtype) == "float64" else "float32"
    u_out = xp.empty(m, dtype=acc)
    v = xp.empty(n, dtype=acc)
    sigma = xp.empty((), dtype=acc)
    part = xp.empty((programs, m), dtype=acc)
    norms = xp.empty(programs, dtype=acc)
    counter = xp.zeros(1, dtype="int32")
    args = [KernelArg(a) for a in (weight, u, u_out, v, sigma, part, norms, counter)]
    step_launch = launch("spectral_norm_power_iteration", power_iteration_step_kernel,
                         (programs,), dict(BLOCK_M=block_m, BLOCK_N=block_n))
    for step in range(n_iterations):
        if step == 1:
            args[1] = args[2]                   # later steps read and write u in place
        step_launch(
            *args,
            m, n,
            *(s // weight.itemsize for s in weight.strides),
            float(eps),
            ACC=getattr(tl, acc), BLOCK_M=block_m, BLOCK_N=block_n, num_warps=NUM_WARPS)
    return (u_out.astype(weight.dtype, copy=False), v.astype(weight.dtype, copy=False),
            sigma.astype(weight.dtype, copy=False))
