"""Convolution as an implicit GEMM, in Triton: conv2d, its input gradient
(conv_transpose2d) and its weight gradient (conv2d_weight).

The three ops of minigan/ops/conv.py, each one matrix product whose operands are never
built in memory: every tile of the "im2col" matrix is computed from indices and loaded
straight from the image, with masks where it reaches into the zero padding.

Notation as in minigan/ops/conv.py: x (N, C, H, W), weight (O, C/g, kh, kw),
y (N, O, Ho, Wo); pixel (i, j) of y reads x at h = i*sh - ph + p*dh, w = j*sw - pw + q*dw.
Per group, with K = (C/g) kh kw taps:

    conv2d            Y[(n,i,j), o]   = sum_k  X[(n,i,j), k]   W[k, o]       M=N Ho Wo, N=O/g
    conv_transpose2d  dX[(n,h,w), c]  = sum_k' dY[(n,h,w), k'] W'[k', c]     M=N H W,   N=C/g
                      (k' = (o, p, q); the tap reads dY at i = (h + ph - p dh) / sh, and
                       only where that division is exact: the pixels split into sh*sw
                       phase classes, (h + ph) mod sh and (w + pw) mod sw, and each class
                       reduces over only the taps that reach it)
    conv2d_weight     dW[o, (c,p,q)]  = sum_(n,i,j) dY[o, (n,i,j)] X[(n,i,j), (c,p,q)]

Each program computes one BLOCK_M x BLOCK_N tile of the product, walking the reduction in
BLOCK_K steps: index arithmetic -> masked loads of both tiles -> ``tl.dot`` into a float32
(float64 for float64 inputs) accumulator -> one masked store. The weight gradient, whose
reduction (every pixel of the batch) is long and whose output is small, also splits the
reduction over SPLIT programs that write partial sums, added afterwards (deterministic,
unlike atomics).

float32 products use TF32 tensor cores when ``ALLOW_TF32`` (as cuDNN does by default),
else full-precision FMAs.

Operand layouts (``channels_last``). The kernels read their operands through strides, so
they run on any layout; the layout decides how they load. In NCHW memory a tap-by-tap tile
is a gather: neighbours along the channels are H W elements apart, so each thread copies
one element at a time to shared memory (float16: not even asynchronously, so the loop is
not software-pipelined). With ``channels_last=True`` the launchers first copy the operands
to the memory orders of ``CHANNELS_LAST``, where the channels are innermost, and each
thread copies 16 bytes at once (``cp.async``, 4 float32 or 8 float16). For conv2d and the
input gradient the channels are the reduction, and the order is also the one TF32
tensor-core products need in shared memory (both operands K-major): hence the weight as
(O, kh, kw, C/g) for conv2d but as (C/g, kh, kw, O) for the input gradient. The weight
gradient reduces over pixels, which no layout of a strided, padded tap makes contiguous;
its x and dY go to (N, H, W, C) and (N, Ho, Wo, O), whose tiles load 16 bytes a thread
in float16 (in float32, where TF32 wants the pixels innermost, they stay 4-byte
gathers). Machine instructions per reduction step at the GPU benchmarks' layers,
compiled for sm_90 (bench/compiled_kernels.py ``--channels-last``, BENCHMARKS.md): for
conv2d and the input gradient 2.2-2.5x fewer in float16, 1.5x in float32; for the weight
gradient fewer in float16 (DCGAN's layers 188 -> 141, BigGAN's 224 -> 139), hardly in
float32 (BigGAN's 211 -> 202), and more at DCGAN's layers in float32 (182 -> 242). The
price is one copy of each moved operand per call, so these layouts are implementations
of their own ("-nhwc", kernels/__init__.py) for autotuning to time against the others,
op by op and layer by layer.
"""
from __future__ import annotations

from typing import Any

import triton
import triton.language as tl

from minigan.backend import dtype_name
from minigan.kernels import CONV_TILES
from minigan.kernels.arrays import KernelArg, cdiv, launch, next_power_of_2

ALLOW_TF32 = True


@triton.jit
def _add_digit(digit, amount, radix):
    """One digit of a mixed-radix counter plus ``amount`` (below 2 radix): the digit kept
    below ``radix``, and the carry into the next digit (0 or 1). The kernels advance
    their reduction index this way, where dividing by a run-time radix at every step
    would cost an integer division (some twenty instructions)."""
    digit += amount
    carry = digit >= radix
    return tl.where(carry, digit - radix, digit), carry.to(tl.int32)


@triton.jit
def conv2d_kernel(
    # pointers
    x_ptr, w_ptr, y_ptr,
    # sizes
    N, C_G, H, W, O_G, Ho, Wo,
    # strides, in elements
    stride_xn, stride_xc, stride_xh, stride_xw,
    stride_wo, stride_wc, stride_wh, stride_ww,
    stride_yn, stride_yc, stride_yh, stride_yw,
    # convolution geometry
    sh, sw, ph, pw, dh, dw,
    # meta-parameters
    KH: tl.constexpr, KW: tl.constexpr, ACC: tl.constexpr, PRECISION: tl.constexpr,
    TAPS_OUTER: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """One (BLOCK_M pixels) x (BLOCK_N output channels) tile of y, for group program_id(2).

    Two walks of the reduction k = (c, p, q), chosen by the launcher:
      TAPS_OUTER: one tap (p, q) per step with a chunk of BLOCK_K channels. The input
        pixel (h, w) a row reads depends on the tap only, so its address and its padding
        mask are BLOCK_M values per step; kh kw ceil((C/g) / BLOCK_K) steps. For layers
        of many channels.
      else: k flattened, BLOCK_K consecutive (c, p, q) per step, each element's (h, w)
        computed apart: ceil((C/g) kh kw / BLOCK_K) steps, for few channels (an RGB
        input, C/g = 3: 2 steps of 32 instead of 16 steps using 3 of 32 channels).
    """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = tl.program_id(2)
    M = N * Ho * Wo

    # -- rows: output pixels (n, i, j); columns: output channels of this group ---------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n = offs_m // (Ho * Wo)
    i = (offs_m // Wo) % Ho
    j = offs_m % Wo
    h_start = i * sh - ph
    w_start = j * sw - pw
    channels = g * O_G + offs_n

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    if TAPS_OUTER:
        # -- k = (tap (p, q), chunk of BLOCK_K channels c): the index arithmetic is scalar,
        # so a row's address and mask are computed per pixel, not per element. Each
        # address is a row part plus a column part (an add per element), the parts that
        # do not change from step to step computed before the loop ---------------------
        chunks = tl.cdiv(C_G, BLOCK_K)
        x_row = n * stride_xn + h_start * stride_xh + w_start * stride_xw   # (BLOCK_M,)
        w_column = channels * stride_wo                                    # (BLOCK_N,)
        # the step as (tap, chunk), advanced as a counter (_add_digit)
        tap = 0
        chunk = 0
        for _ in range(0, KH * KW * chunks):
            p = tap // KW
            q = tap % KW
            h = h_start + p * dh                                       # (BLOCK_M,)
            w = w_start + q * dw
            rows = (offs_m < M) & (h >= 0) & (h < H) & (w >= 0) & (w < W)
            offs_k = chunk * BLOCK_K + tl.arange(0, BLOCK_K)              # channels c
            cols = offs_k < C_G
            x_tap = x_row + (p * dh * stride_xh + q * dw * stride_xw)
            # the x tile built as (channels, pixels) and transposed: a thread then holds
            # one pixel of it, whose mask and address it works out once (conv2d_weight's
            # x tile says why)
            a = tl.trans(tl.load(x_ptr + ((g * C_G + offs_k) * stride_xc)[:, None]
                                 + x_tap[None, :], mask=cols[:, None] & rows[None, :],
                                 other=0.0))
            w_tap = offs_k * stride_wc + (p * stride_wh + q * stride_ww)   # (BLOCK_K,)
            b = tl.load(w_ptr + w_tap[:, None] + w_column[None, :],
                        mask=cols[:, None] & (offs_n < O_G)[None, :], other=0.0)
            acc += tl.dot(a, b, input_precision=PRECISION, out_dtype=ACC)
            chunk, carry = _add_digit(chunk, 1, chunks)
            tap += carry
    else:
        K = C_G * KH * KW
        for k0 in range(0, K, BLOCK_K):
            # -- reduction index k = (c, p, q) -> the input pixel each row reads --------
            offs_k = k0 + tl.arange(0, BLOCK_K)
            c = offs_k // (KH * KW)
            p = (offs_k // KW) % KH
            q = offs_k % KW
            h = h_start[:, None] + p[None, :] * dh                     # (BLOCK_M, BLOCK_K)
            w = w_start[:, None] + q[None, :] * dw
            inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
            a_mask = (offs_m[:, None] < M) & (offs_k[None, :] < K) & inside
            a = tl.load(x_ptr + n[:, None] * stride_xn + (g * C_G + c[None, :]) * stride_xc
                        + h * stride_xh + w * stride_xw, mask=a_mask, other=0.0)
            # -- the weight tile: W[k, o] = weight[o, c, p, q] -------------------------
            b_mask = (offs_k[:, None] < K) & (offs_n[None, :] < O_G)
            b = tl.load(w_ptr + channels[None, :] * stride_wo + c[:, None] * stride_wc
                        + p[:, None] * stride_wh + q[:, None] * stride_ww, mask=b_mask,
                        other=0.0)
            acc += tl.dot(a, b, input_precision=PRECISION, out_dtype=ACC)

    # -- write the tile ------------------------------------------------------------------
    y_mask = (offs_m[:, None] < M) & (offs_n[None, :] < O_G)
    tl.store(y_ptr + n[:, None] * stride_yn + channels[None, :] * stride_yc
             + i[:, None] * stride_yh + j[:, None] * stride_yw,
             acc.to(y_ptr.dtype.element_ty), mask=y_mask)


@triton.jit
def _phase_pixels(phase, stride, padding, size):
    """The pixels h < size of one phase, (h + padding) mod stride == phase: h = h0 + u*stride
    for u < count (count may be 0, when size < stride)."""
    h0 = (phase + stride - padding % stride) % stride
    count = (size - h0 + stride - 1) // stride                 # size >= 1: never negative
    return h0, count


@triton.jit
def _phase_taps(phase, stride, dilation, KSIZE: tl.constexpr, KSIZE_POW2: tl.constexpr):
    """The taps p < KSIZE that reach the pixels of one phase, p*dilation = phase (mod stride):
    an arithmetic progression p = p0 + t*step, t < count (count may be 0).

    step = stride / gcd(stride, dilation) is read off the set as its second element minus
    its first; it is only used when count >= 2."""
    p = tl.arange(0, KSIZE_POW2)
    hits = (p < KSIZE) & ((p * dilation + stride - phase) % stride == 0)
    count = tl.sum(hits.to(tl.int32), axis=0)
    p0 = tl.min(tl.where(hits, p, KSIZE), axis=0)
    step = tl.min(tl.where(hits & (p > p0), p, p0 + KSIZE), axis=0) - p0
    return p0, count, step


@triton.jit
def conv_transpose2d_kernel(
    # pointers
    dy_ptr, w_ptr, dx_ptr,
    # sizes
    N, C_G, H, W, O_G, Ho, Wo,
    # strides, in elements
    stride_yn, stride_yc, stride_yh, stride_yw,
    stride_wo, stride_wc, stride_wh, stride_ww,
    stride_xn, stride_xc, stride_xh, stride_xw,
    # convolution geometry
    sh, sw, ph, pw, dh, dw,
    # meta-parameters
    KH: tl.constexpr, KW: tl.constexpr, KH_POW2: tl.constexpr, KW_POW2: tl.constexpr,
    ACC: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """One (BLOCK_M input pixels of one phase class) x (BLOCK_N input channels) tile of dx.

    Phase decomposition. A tap p reaches row h (at i = (h + ph - p dh) / sh) only when
    p dh = h + ph (mod sh), so the rows of one phase r = (h + ph) mod sh share one tap set
    P_r = {p0 + t step}, and likewise the columns (phase s, taps Q_s). The pixels of dx
    split into sh*sw classes (r, s); program_id(0) = m_tile * sh*sw + (r sw + s) and each
    program reduces over its class's K_rs = (O/g) |P_r| |Q_s| taps only, where every
    division by the stride is exact by construction: only 0 <= i < Ho, 0 <= j < Wo are
    masked. A class with no taps (stride > kernel, or gcd(sh, dh) > 1) stores zeros.

    Multiply-adds per dx element: (O/g) kh kw when every tap is walked and the misses are
    masked, (O/g) |P_r| |Q_s| here. Summed over the classes, sum_r |P_r| = kh (each tap has
    one phase), so about (O/g) kh kw / (sh sw) on average. Kernel 4, stride 2, padding 1
    (DCGAN's generator layers, and the input gradient of its critic's convs): |P_r| = 2 for
    both phases, 16 (O/g) -> 4 (O/g); e.g. the layer 256 -> 128 channels, 4x4 -> 8x8:
    4096 -> 1024 per element. Stride 1 is one class with every tap: the same work as before.

    The reduction walks one tap (p, q) at a time, over chunks of BLOCK_K channels o, as
    conv2d_kernel's TAPS_OUTER walk does: a tap shifts every pixel by the same (i, j)
    offset, so the index arithmetic is scalar and a row's address and mask are per pixel.
    A chunk is full unless O/g is small; at O/g = 1 (the input gradient of a critic's
    last layer, whose dY holds one value per image) a step uses 1 of BLOCK_K channels.
    """
    pid_m = tl.program_id(0) // (sh * sw)
    r = tl.program_id(0) % (sh * sw) // sw
    s = tl.program_id(0) % sw
    pid_n = tl.program_id(1)
    g = tl.program_id(2)

    # -- the class (r, s): its pixels h = h0 + u sh, w = w0 + v sw (u < Hr, v < Wr) ----------
    h0, Hr = _phase_pixels(r, sh, ph, H)
    w0, Wr = _phase_pixels(s, sw, pw, W)
    M = N * Hr * Wr
    if pid_m * BLOCK_M >= M:                 # the grid is sized for the largest class
        return
    # -- and its taps p = p0 + tp p_step (tp < P), q = q0 + tq q_step (tq < Q) ---------------
    p0, P, p_step = _phase_taps(r, sh, dh, KH, KH_POW2)
    q0, Q, q_step = _phase_taps(s, sw, dw, KW, KW_POW2)
    # i = (h + ph - p dh) / sh = u + i0 - tp di, with i0 = (h0 + ph - p0 dh) / sh and
    # di = p_step dh / sh, both exact divisions (di only used when P >= 2); same for j.
    i0 = (h0 + ph - p0 * dh) // sh
    di = p_step * dh // sh
    j0 = (w0 + pw - q0 * dw) // sw
    dj = q_step * dw // sw

    # -- rows: pixels (n, u, v) of the class; columns: input channels of this group ---------
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n = offs_m // (Hr * Wr)
    u = (offs_m // Wr) % Hr
    v = offs_m % Wr
    channels = g * C_G + offs_n

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    chunks = tl.cdiv(O_G, BLOCK_K)
    w_column = offs_n * stride_wc       # the weight tile's column part, loop-invariant
    # the step as (tap (tp, tq), chunk), advanced as a mixed-radix counter, as conv2d's
    tp = 0
    tq = 0
    chunk = 0
    for _ in range(0, P * Q * chunks):
        # -- one tap (p, q) of the class and one chunk of BLOCK_K channels o -----------
        i = u + (i0 - tp * di)                                     # (BLOCK_M,)
        j = v + (j0 - tq * dj)
        rows = (offs_m < M) & (i >= 0) & (i < Ho) & (j >= 0) & (j < Wo)
        offs_k = chunk * BLOCK_K + tl.arange(0, BLOCK_K)
        o = g * O_G + offs_k                                       # (BLOCK_K,)
        # the dy tile built as (channels, pixels) and transposed, as conv2d's x tile
        a = tl.trans(tl.load(dy_ptr + (o * stride_yc)[:, None]
                             + (n * stride_yn + i * stride_yh + j * stride_yw)[None, :],
                             mask=(offs_k < O_G)[:, None] & rows[None, :], other=0.0))
        # -- the weight tile: W'[o, c] = weight[o, c, p, q] at this tap ----------------
        p = p0 + tp * p_step
        q = q0 + tq * q_step
        b_mask = (offs_k[:, None] < O_G) & (offs_n[None, :] < C_G)
        w_tap = o * stride_wo + (p * stride_wh + q * stride_ww)    # (BLOCK_K,)
        b = tl.load(w_ptr + w_tap[:, None] + w_column[None, :], mask=b_mask, other=0.0)
        acc += tl.dot(a, b, input_precision=PRECISION, out_dtype=ACC)
        chunk, carry = _add_digit(chunk, 1, chunks)
        tq, carry = _add_digit(tq, carry, Q)
        tp += carry

    h = h0 + u * sh
    w = w0 + v * sw
    x_mask = (offs_m[:, None] < M) & (offs_n[None, :] < C_G)
    tl.store(dx_ptr + n[:, None] * stride_xn + channels[None, :] * stride_xc
             + h[:, None] * stride_xh + w[:, None] * stride_xw,
             acc.to(dx_ptr.dtype.element_ty), mask=x_mask)


@triton.jit
def conv2d_weight_kernel(
    # pointers
    x_ptr, dy_ptr, part_ptr,
    # sizes
    N, C_G, H, W, O_G, Ho, Wo, GROUPS, PIXELS_PER_SPLIT,
    # strides, in elements
    stride_xn, stride_xc, stride_xh, stride_xw,
    stride_yn, stride_yc, stride_yh, stride_yw,
    # convolution geometry
    sh, sw, ph, pw, dh, dw,
    # meta-parameters
    KH: tl.constexpr, KW: tl.constexpr, ACC: tl.constexpr, PRECISION: tl.constexpr,
    TAPS_OUTER: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """One (BLOCK_M output channels) x (BLOCK_N columns (c, p, q)) tile of the partial sum
    of dW over the pixels [split * PIXELS_PER_SPLIT, (split + 1) * PIXELS_PER_SPLIT).

    part: (SPLIT, GROUPS, O/g, (C/g) kh kw); the caller sums over SPLIT. The columns of a
    tile, chosen by the launcher as conv2d_kernel's walks are:
      TAPS_OUTER: BLOCK_N channels c at one tap (p, q), program_id(1) = c tile * kh kw +
        tap. The input pixel (h, w) a row reads depends on the tap only, so the x tile's
        address and mask are per pixel. For layers of many channels.
      else: BLOCK_N consecutive (c, p, q), each column's (h, w) computed apart (an RGB
        input: 48 columns (c, p, q) for 4x4 taps, where channels alone would be 3).
    """
    g = tl.program_id(2) % GROUPS
    split = tl.program_id(2) // GROUPS
    P = N * Ho * Wo
    TAPS = C_G * KH * KW

    # -- rows: output channels o; columns: (c, p, q), whose index in dW is c kh kw + tap --
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    if TAPS_OUTER:
        tap = tl.program_id(1) % (KH * KW)
        c = tl.program_id(1) // (KH * KW) * BLOCK_N + tl.arange(0, BLOCK_N)
        p = tap // KW                                              # scalars
        q = tap % KW
        columns = c * (KH * KW) + tap
        col_ok = c < C_G
    else:
        columns = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
        c = columns // (KH * KW)
        p = (columns // KW) % KH
        q = columns % KW
        col_ok = columns < TAPS

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    start = split * PIXELS_PER_SPLIT
    # -- reduction index: output pixels k = (n, i, j), k = (n Ho + i) Wo + j ---------------
    # Decoded by division once, then advanced BLOCK_K at every step as a mixed-radix
    # counter: j += dj, with a carry into i when it passes Wo, and i += di, with a carry
    # into n when it passes Ho. Dividing by the run-time Wo and Ho Wo at every step would
    # cost two integer divisions (some twenty instructions each) per element of the k
    # vector, in each of the two layouts in which the tiles read it.
    offs_k = start + tl.arange(0, BLOCK_K)
    n = offs_k // (Ho * Wo)
    i = (offs_k // Wo) % Ho
    j = offs_k % Wo
    dy_channel = (g * O_G + offs_m) * stride_yc                 # loop-invariant offsets
    x_channel = (g * C_G + c) * stride_xc
    dn = BLOCK_K // (Ho * Wo)                                   # BLOCK_K as (dn, di, dj)
    di = (BLOCK_K // Wo) % Ho
    dj = BLOCK_K % Wo
    for _ in range(0, PIXELS_PER_SPLIT, BLOCK_K):
        in_range = (offs_k < P) & (offs_k < start + PIXELS_PER_SPLIT)
        a_mask = (offs_m[:, None] < O_G) & in_range[None, :]
        dy_pixel = n * stride_yn + i * stride_yh + j * stride_yw          # (BLOCK_K,)
        a = tl.load(dy_ptr + dy_channel[:, None] + dy_pixel[None, :], mask=a_mask, other=0.0)
        # -- the input pixel (h, w) each (column, pixel) reads. The x tile is built as
        # (columns, pixels) and transposed for the product: Triton spreads a warp's lanes
        # over the last axis when no axis is contiguous (x in NCHW memory), so each thread
        # then works out the bounds and address of one pixel, not of sixteen -------------
        if TAPS_OUTER:
            h = (i * sh - ph + p * dh)[None, :]                    # (1, BLOCK_K)
            w = (j * sw - pw + q * dw)[None, :]
        else:
            h = p[:, None] * dh + i[None, :] * sh - ph             # (BLOCK_N, BLOCK_K)
            w = q[:, None] * dw + j[None, :] * sw - pw
        inside = (h >= 0) & (h < H) & (w >= 0) & (w < W)
        b_mask = col_ok[:, None] & in_range[None, :] & inside
        x_pixel = n[None, :] * stride_xn + h * stride_xh + w * stride_xw
        b = tl.load(x_ptr + x_channel[:, None] + x_pixel, mask=b_mask, other=0.0)
        acc += tl.dot(a, tl.trans(b), input_precision=PRECISION, out_dtype=ACC)
        offs_k += BLOCK_K
        j, carry = _add_digit(j, dj, Wo)
        i, carry = _add_digit(i, di + carry, Ho)
        n += dn + carry

    part_mask = (offs_m[:, None] < O_G) & col_ok[None, :]
    base = part_ptr + (split * GROUPS + g) * O_G * TAPS
    tl.store(base + offs_m[:, None] * TAPS + columns[None, :], acc, mask=part_mask)


# --------------------------------------------------------------------------------------
# Launchers: check, allocate, grid, launch
# --------------------------------------------------------------------------------------

def _meta(dtype: Any) -> dict:
    """Accumulator type and dot precision for the input dtype."""
    if dtype_name(dtype) == "float64":
        return dict(ACC=tl.float64, PRECISION="ieee")
    precision = "tf32" if ALLOW_TF32 and dtype_name(dtype) == "float32" else "ieee"
    return dict(ACC=tl.float32, PRECISION=precision)


def _check(op: str, *arrays: Any) -> None:
    dtypes = {dtype_name(a.dtype) for a in arrays}
    if len(dtypes) != 1 or not dtypes <= {"float16", "float32", "float64"}:
        raise TypeError(f"{op} (triton): needs float16, float32 or float64 arrays of one "
                        f"dtype, got {sorted(dtypes)}")
    for a in arrays:
        if a.size >= 2 ** 31:
            raise ValueError(f"{op} (triton): an array of shape {a.shape} has more than "
                             "2^31 elements; the kernels index with int32")


def _strides(array: Any) -> tuple[int, ...]:
    return tuple(s // array.itemsize for s in array.strides)


def _geometry_args(geo: Any) -> tuple[int, ...]:
    return (*geo.stride, *geo.padding, *geo.dilation)


# The tile shapes (BLOCK_M, BLOCK_N, BLOCK_K, warps) are kernels/__init__.py's CONV_TILES,
# each registered as its own implementation for autotuning to time; "triton" is the default.
DEFAULT_TILES = CONV_TILES["triton"]


def taps_outer(channels: int, block: int) -> bool:
    """Whether a kernel walks tap by tap, over chunks of ``block`` channels (conv2d's
    BLOCK_K, conv2d_weight's BLOCK_N), rather than over (c, p, q) flattened: when a chunk
    is at least half full (conv2d_kernel's docstring)."""
    return 2 * channels >= block


# The memory order (outermost axis first) of each operand moved by ``channels_last``: x,
# w for conv2d; dy, w for conv_transpose2d; x, dy for conv2d_weight (module docstring).
# Only the tap-by-tap walk gains: the flat walk's loads of few channels (an RGB side) are
# gathers in any layout, and are left as they are.
CHANNELS_LAST = {
    "conv2d": ((0, 2, 3, 1), (0, 2, 3, 1)),             # x: N H W C;   w: O kh kw C/g
    "conv_transpose2d": ((0, 2, 3, 1), (1, 2, 3, 0)),   # dy: N Ho Wo O; w: C/g kh kw O
    "conv2d_weight": ((0, 2, 3, 1), (0, 2, 3, 1)),      # x: N H W C;   dy: N Ho Wo O
}


def in_memory_order(a: Any, order: tuple[int, ...], xp: Any) -> Any:
    """``a`` with the same shape and values, its elements laid out in memory with the axes
    in ``order``, outermost first: a copy, unless they already are."""
    laid_out = xp.ascontiguousarray(a.transpose(order))
    return laid_out.transpose(tuple(order.index(axis) for axis in range(a.ndim)))


def _laid_out(op: str, first: Any, second: Any, channels_last: bool, xp: Any) -> tuple:
    """The two operands of ``op`` as its kernel reads them: as given, or moved to
    ``CHANNELS_LAST[op]``."""
    if not channels_last:
        return first, second
    orders = CHANNELS_LAST[op]
    return in_memory_order(first, orders[0], xp), in_memory_order(second, orders[1], xp)


def _output(op: str, out: Any, shape: tuple[int, ...], like: Any, xp: Any) -> Any:
    """A new output, or the caller's ``out`` (tests pass one filled with NaN)."""
    if out is None:
        return xp.empty(shape, dtype=like.dtype)
    if tuple(out.shape) != tuple(shape) or out.dtype != like.dtype:
        raise ValueError(f"{op} (triton): out has shape {tuple(out.shape)} and dtype "
                         f"{out.dtype}, expected {tuple(shape)} and {like.dtype}")
    return out


def conv2d(x: Any, w: Any, geo: Any, out_hw: tuple[int, int], xp: Any, out: Any = None,
           tiles: dict = DEFAULT_TILES, channels_last: bool = False) -> Any:
    """y = conv2d(x, w).   x: (N, C, H, W), w: (O, C/g, kh, kw) -> (N, O, *out_hw)"""
    _check("conv2d", x, w)
    n, c, h, wd = x.shape
    o, c_g, kh, kw = w.shape
    g = geo.groups
    y = _output("conv2d", out, (n, o, *out_hw), x, xp)
    if y.size == 0:
        return y
    by_tap = taps_outer(c_g, tiles["BLOCK_K"])
    x, w = _laid_out("conv2d", x, w, channels_last and by_tap, xp)
    grid = (cdiv(n * out_hw[0] * out_hw[1], tiles["BLOCK_M"]),
            cdiv(o // g, tiles["BLOCK_N"]), g)
    launch("conv2d", conv2d_kernel, grid, tiles)(
        KernelArg(x), KernelArg(w), KernelArg(y),
        n, c_g, h, wd, o // g, *out_hw,
        *_strides(x), *_strides(w), *_strides(y),
        *_geometry_args(geo),
        KH=kh, KW=kw, **_meta(x.dtype), TAPS_OUTER=by_tap, **tiles)
    return y


def conv_transpose2d(dy: Any, w: Any, geo: Any, out_hw: tuple[int, int], xp: Any,
                     out: Any = None, tiles: dict = DEFAULT_TILES,
                     channels_last: bool = False) -> Any:
    """dx = conv_transpose2d(dy, w).   dy: (N, O, Ho, Wo), w: (O, C/g, kh, kw) ->
    dx: (N, C, *out_hw)"""
    _check("conv_transpose2d", dy, w)
    n, o, ho, wo = dy.shape
    _, c_g, kh, kw = w.shape
    g = geo.groups
    dx = _output("conv_transpose2d", out, (n, c_g * g, *out_hw), dy, xp)
    if dx.size == 0:
        return dx
    if dy.size == 0:
        dx[...] = 0
        return dx
    dy, w = _laid_out("conv_transpose2d", dy, w, channels_last, xp)
    sh, sw = geo.stride
    largest = n * cdiv(out_hw[0], sh) * cdiv(out_hw[1], sw)  # pixels of a class
    grid = (cdiv(largest, tiles["BLOCK_M"]) * sh * sw,
            cdiv(c_g, tiles["BLOCK_N"]), g)
    launch("conv_transpose2d", conv_transpose2d_kernel, grid, tiles)(
        KernelArg(dy), KernelArg(w), KernelArg(dx),
        n, c_g, *out_hw, o // g, ho, wo,
        *_strides(dy), *_strides(w), *_strides(dx),
        *_geometry_args(geo),
        KH=kh, KW=kw, KH_POW2=next_power_of_2(kh), KW_POW2=next_power_of_2(kw),
        **_meta(dy.dtype), **tiles)
    return dx


def _splits(pixels: int, programs: int) -> int:
    """Split the pixel reduction of ``programs`` output tiles so that about 4 x 132
    programs run (an H100's SM count), each still summing at least 256 pixels."""
    return max(1, min(cdiv(528, programs), cdiv(pixels, 256)))


def conv2d_weight(x: Any, dy: Any, geo: Any, kernel: tuple[int, int], xp: Any,
                  tiles: dict = DEFAULT_TILES, channels_last: bool = False) -> Any:
    """dw = conv2d_weight(x, dy).   x: (N, C, H, W), dy: (N, O, Ho, Wo) -> (O, C/g, kh, kw)

    The output is the sum of the split partials, so there is no ``out`` to poison: the
    partials buffer itself is written in full by construction of the grid."""
    _check("conv2d_weight", x, dy)
    n, c, h, wd = x.shape
    _, o, ho, wo = dy.shape
    kh, kw = kernel
    g = geo.groups
    taps = (c // g) * kh * kw
    pixels = n * ho * wo
    if o == 0 or taps == 0 or pixels == 0:
        return xp.zeros((o, c // g, kh, kw), dtype=x.dtype)
    by_tap = taps_outer(c // g, tiles["BLOCK_N"])
    x, dy = _laid_out("conv2d_weight", x, dy, channels_last and by_tap, xp)
    columns = (cdiv(c // g, tiles["BLOCK_N"]) * kh * kw if by_tap
               else cdiv(taps, tiles["BLOCK_N"]))
    split = _splits(pixels, cdiv(o // g, tiles["BLOCK_M"]) * columns * g)
    per_split = cdiv(cdiv(pixels, split), tiles["BLOCK_K"]) * tiles["BLOCK_K"]
    split = cdiv(pixels, per_split)
    accumulator = "float64" if dtype_name(x.dtype) == "float64" else "float32"
    parts = xp.empty((split, g, o // g, taps), dtype=accumulator)
    grid = (cdiv(o // g, tiles["BLOCK_M"]), columns, g * split)
    launch("conv2d_weight", conv2d_weight_kernel, grid, tiles)(
        KernelArg(x), KernelArg(dy), KernelArg(parts),
        n, c // g, h, wd, o // g, ho, wo, g, per_split,
        *_strides(x), *_strides(dy),
        *_geometry_args(geo),
        KH=kh, KW=kw, **_meta(x.dtype), TAPS_OUTER=by_tap, **tiles)
    dw = parts[0] if split == 1 else parts.sum(axis=0)       # (g, O/g, (C/g) kh kw)
    return dw.astype(x.dtype, copy=False).reshape(o, c // g, kh, kw)
