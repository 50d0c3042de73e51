"""Tests for minigan/ops/conv.py."""
import contextlib
import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan import backend, extension
from minigan.backend import use_implementation
from minigan.testing import assert_close, check_op, gradcheck
from minigan.testing.strategies import arrays

OPS = ("conv2d", "conv_transpose2d", "conv2d_weight")
needs_cpp = pytest.mark.skipif(extension.C is None, reason="minigan._C was not built")
IMPLEMENTATIONS = ["numpy", pytest.param("cpp", marks=needs_cpp)]
TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@contextlib.contextmanager
def implementation(name):
    """Force ``name`` on all three ops (the backward of each one runs the other two)."""
    with contextlib.ExitStack() as stack:
        for op in OPS:
            stack.enter_context(use_implementation(op, name))
        yield


# --------------------------------------------------------------------------------------
# The second oracle: the definition, one multiply-add at a time
# --------------------------------------------------------------------------------------

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _taps(x_shape, w_shape, y_hw, stride, padding, dilation, groups):
    """Every (n, o, c, k, i, j, p, q, h, w) of  y[n, o, i, j] += w[o, k, p, q] x[n, c, h, w]
    (taps that read the zero padding left out): conv2d, written out."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    batch, _, height, width = x_shape
    out_channels, c_per_group, kh, kw = w_shape
    o_per_group = out_channels // groups
    for n, o, k, i, j, p, q in itertools.product(
            range(batch), range(out_channels), range(c_per_group), range(y_hw[0]),
            range(y_hw[1]), range(kh), range(kw)):
        h, w = i * sh - ph + p * dh, j * sw - pw + q * dw
        if 0 <= h < height and 0 <= w < width:
            yield n, o, o // o_per_group * c_per_group + k, k, i, j, p, q, h, w


def _conv_hw(hw, kernel, stride, padding, dilation):
    return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in zip(
        hw, kernel, _pair(stride), _pair(padding), _pair(dilation)))


def _transpose_hw(hw, kernel, stride, padding, dilation, output_padding):
    return tuple((size - 1) * s - 2 * p + d * (k - 1) + e + 1 for size, k, s, p, d, e in zip(
        hw, kernel, _pair(stride), _pair(padding), _pair(dilation), _pair(output_padding)))


def naive_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    y_hw = _conv_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    y = np.zeros((x.shape[0], w.shape[0], *y_hw))
    for n, o, c, k, i, j, p, q, h, v in _taps(x.shape, w.shape, y_hw, stride, padding,
                                               dilation, groups):
        y[n, o, i, j] += w[o, k, p, q] * x[n, c, h, v]
    return y


def naive_conv_transpose2d(y, w, stride=1, padding=0, output_padding=0, groups=1,
                           dilation=1):
    """The literal adjoint of naive_conv2d in x: every tap scatters y back onto x."""
    x_hw = _transpose_hw(y.shape[2:], w.shape[2:], stride, padding, dilation, output_padding)
    x = np.zeros((y.shape[0], w.shape[1] * groups, *x_hw))
    for n, o, c, k, i, j, p, q, h, v in _taps(x.shape, w.shape, y.shape[2:], stride, padding,
                                               dilation, groups):
        x[n, c, h, v] += w[o, k, p, q] * y[n, o, i, j]
    return x


def naive_conv2d_weight(x, weight_size, gy, stride=1, padding=0, dilation=1, groups=1):
    """The adjoint of naive_conv2d in w."""
    gw = np.zeros(weight_size)
    for n, o, c, k, i, j, p, q, h, v in _taps(x.shape, weight_size, gy.shape[2:], stride,
                                               padding, dilation, groups):
        gw[o, k, p, q] += gy[n, o, i, j] * x[n, c, h, v]
    return gw


def _with_bias(y, b):
    return y if b is None else y + b.reshape(1, -1, 1, 1)


# --------------------------------------------------------------------------------------
# Valid geometries, constructed (not filtered)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """conv2d maps x: (N, C, *x_hw) to (N, O, *conv_hw) with weight (O, C/g, kh, kw);
    conv_transpose2d with the same weight and output_padding maps y: (N, O, *y_hw) back to
    x's shape. ``conv_hw`` is ``y_hw`` unless an output_padding >= stride adds rows."""

    batch: int
    channels: int
    out_channels: int
    groups: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    output_padding: tuple
    y_hw: tuple

    @property
    def x_hw(self):
        return _transpose_hw(self.y_hw, self.kernel, self.stride, self.padding, self.dilation,
                             self.output_padding)

    @property
    def conv_hw(self):
        return _conv_hw(self.x_hw, self.kernel, self.stride, self.padding, self.dilation)

    @property
    def x_shape(self):
        return (self.batch, self.channels, *self.x_hw)

    @property
    def w_shape(self):
        return (self.out_channels, self.channels // self.groups, *self.kernel)

    @property
    def y_shape(self):
        return (self.batch, self.out_channels, *self.y_hw)

    @property
    def conv_shape(self):
        return (self.batch, self.out_channels, *self.conv_hw)

    @property
    def conv(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    @property
    def transpose(self):
        return dict(self.conv, output_padding=self.output_padding)


def _pairs(low, high):
    return st.tuples(st.integers(low, high), st.integers(low, high))


@st.composite
def cases(draw, max_groups=3, max_kernel=3, max_stride=3, max_dilation=2, max_padding=2,
          groups=None, stride=None, padding=None):
    """Groups first, channels as multiples of it; output_padding below max(stride,
    dilation); then y_hw at least large enough for conv_transpose2d's output to be
    non-empty (so x_hw covers every input size conv2d accepts)."""
    g = draw(st.integers(1, max_groups)) if groups is None else groups
    kernel = draw(_pairs(1, max_kernel))
    strides = draw(_pairs(1, max_stride)) if stride is None else stride
    dilation = draw(_pairs(1, max_dilation))
    pads = draw(_pairs(0, max_padding)) if padding is None else padding
    extra = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilation))
    y_hw = []
    for k, s, p, d, e in zip(kernel, strides, pads, dilation, extra):
        smallest = max(1, 1 - (-(2 * p - d * (k - 1) - e) // s))
        y_hw.append(draw(st.integers(smallest, smallest + 2)))
    return Case(draw(st.integers(1, 2)), g * draw(st.integers(1, 2)),
                g * draw(st.integers(1, 2)), g, kernel, strides, pads, dilation, extra,
                tuple(y_hw))


@st.composite
def problems(draw, **limits):
    """A case and float64 arrays for it: x, w, y (conv_transpose2d input), gy (conv2d
    output gradient), a bias for each side."""
    case = draw(cases(**limits))
    return (case, draw(arrays(case.x_shape)), draw(arrays(case.w_shape)),
            draw(arrays(case.y_shape)), draw(arrays(case.conv_shape)),
            draw(arrays((case.out_channels,))), draw(arrays((case.channels,))))


def _t(a, dtype=np.float64, requires_grad=False):
    return mg.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def _run_all(case, x, w, y, gy, b_out, b_in, dtype=np.float64):
    """conv2d (bias), conv_transpose2d (bias), conv2d_weight on one case, as arrays."""
    x, w, y, gy, b_out, b_in = (_t(a, dtype) for a in (x, w, y, gy, b_out, b_in))
    return (F.conv2d(x, w, b_out, **case.conv).numpy(),
            F.conv_transpose2d(y, w, b_in, **case.transpose).numpy(),
            F.conv2d_weight(x, w.shape, gy, **case.conv).numpy())


# --------------------------------------------------------------------------------------
# 1. Both implementations against the naive loops; 2. C++ against the NumPy reference
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(problems())
def test_all_three_ops_match_naive_loops(impl, problem):
    case, x, w, y, gy, b_out, b_in = problem
    with implementation(impl):
        conv, transposed, weight = _run_all(case, x, w, y, gy, b_out, b_in)
    assert_close(conv, _with_bias(naive_conv2d(x, w, **case.conv), b_out), **TOLERANCES[
        np.float64])
    assert_close(transposed, _with_bias(naive_conv_transpose2d(y, w, **case.transpose), b_in),
                 **TOLERANCES[np.float64])
    assert_close(weight, naive_conv2d_weight(x, w.shape, gy, **case.conv),
                 **TOLERANCES[np.float64])


@needs_cpp
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(problems())
def test_cpp_matches_numpy_reference(dtype, problem):
    with implementation("cpp"):
        got = _run_all(*problem, dtype=dtype)
    with implementation("numpy"):
        want = _run_all(*problem, dtype=dtype)
    for name, g, r in zip(OPS, got, want):
        assert g.dtype == dtype, name
        assert_close(g, r, msg=f"{name}: ", **TOLERANCES[dtype])


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_float16_runs_on_every_implementation(impl):
    """The C++ kernels are float32/float64 only; float16 must still work (the reference)."""
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-1, 1, (2, 4, 6, 5)), rng.uniform(-1, 1, (6, 2, 3, 3))
    x, w = x.astype(np.float16).astype(np.float64), w.astype(np.float16).astype(np.float64)
    kw = dict(stride=2, padding=1, groups=2)
    y = naive_conv2d(x, w, **kw)
    half = dict(rtol=1e-2, atol=1e-2)                     # float16 sums of 18 products
    with implementation(impl):
        got = F.conv2d(_t(x, np.float16), _t(w, np.float16), **kw)
        assert got.dtype == np.float16
        assert_close(got, y, **half)
        y16 = y.astype(np.float16).astype(np.float64)
        assert_close(F.conv_transpose2d(_t(y16, np.float16), _t(w, np.float16),
                                        output_padding=1, **kw),
                     naive_conv_transpose2d(y16, w, output_padding=1, **kw), **half)
        assert_close(F.conv2d_weight(_t(x, np.float16), w.shape, _t(y16, np.float16), **kw),
                     naive_conv2d_weight(x, w.shape, y16, **kw), **half)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_empty_batch_gives_empty_outputs_and_zero_weight_gradients(impl):
    x = _t(np.zeros((0, 4, 5, 5)), requires_grad=True)
    w = _t(np.ones((6, 2, 3, 3)), requires_grad=True)
    with implementation(impl):
        y = F.conv2d(x, w, stride=2, padding=1, groups=2)
        assert y.shape == (0, 6, 3, 3)
        gx, gw = mg.grad(y, [x, w], _t(np.zeros(y.shape)))
        assert gx.shape == x.shape and not gw.numpy().any()
        assert F.conv_transpose2d(y.detach(), w, groups=2).shape == (0, 4, 5, 5)
        assert_close(F.conv2d_weight(x.detach(), w.shape, y.detach(), stride=2, padding=1,
                                     groups=2), np.zeros(w.shape), rtol=0, atol=0)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_a_convolution_with_bias_is_one_node_whose_bias_gradient_is_the_sum(op):
    """The bias is an input of the conv's own node (no reshape or add node), and its
    gradient is gy summed over batch and pixels; only the bias is differentiated here."""
    rng = np.random.default_rng(4)
    conv = getattr(F, op)
    w_shape = (3, 4, 3, 3) if op == "conv2d" else (4, 3, 3, 3)    # 4 -> 3 channels
    x, w = _t(rng.standard_normal((2, 4, 5, 5))), _t(rng.standard_normal(w_shape))
    b = _t(rng.standard_normal(3), requires_grad=True)
    y = conv(x, w, b, stride=2, padding=1)
    node = y._ctx
    assert node.needs_input_grad == (False, False, True)
    assert all(t._ctx is None for t in node.inputs)
    assert_close(y.detach(), conv(x, w, stride=2, padding=1).numpy() + b.data[:, None, None],
                 rtol=1e-15, atol=1e-15)
    gy = rng.standard_normal(y.shape)
    (gb,) = mg.grad(y, b, _t(gy))
    assert_close(gb, gy.sum((0, 2, 3)), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_the_bias_gradient_of_an_empty_batch_is_zero(op):
    conv = getattr(F, op)
    x = _t(np.zeros((0, 4, 5, 5)))
    w = _t(np.ones((4, 4, 3, 3)), requires_grad=True)
    b = _t(np.ones(4), requires_grad=True)
    y = conv(x, w, b)
    assert y.shape[0] == 0
    y.sum().backward()
    assert_close(b.grad, np.zeros(4), rtol=0, atol=0)
    assert_close(w.grad, np.zeros(w.shape), rtol=0, atol=0)


@needs_cpp
def test_cpp_kernels_are_the_default_on_cpu():
    from minigan.backend import implementation as chosen
    assert [chosen(op, "cpu").name for op in OPS] == ["cpp"] * 3


@pytest.mark.usefixtures("fresh_tuning")
def test_autotuned_convolution_gives_the_values_and_gradients_of_the_default():
    """With autotuning on, each of the three ops is timed once per signature over every
    implementation available on the CPU, and gives the default's results."""
    rng = np.random.default_rng(3)
    x_data = rng.standard_normal((2, 3, 9, 9))
    w_data = rng.standard_normal((4, 3, 3, 3))

    def forward_backward():
        x = mg.tensor(x_data, requires_grad=True)
        w = mg.tensor(w_data, requires_grad=True)
        F.conv2d(x, w, stride=2, padding=1).square().sum().backward()
        return x.grad.numpy(), w.grad.numpy()
    expected = forward_backward()
    with backend.autotuning():
        got = forward_backward()
        forward_backward()
    results = backend.tuning_results()
    for e, g in zip(expected, got):
        assert_close(g, e, **TOLERANCES[np.float64])
    available = [impl.name for impl in backend._available("conv2d", "cpu")]
    assert sorted(t.op for t in results) == sorted(OPS)       # the repeat measured nothing
    for tuning in results:
        assert list(tuning.seconds) == available and tuning.chosen in available


# --------------------------------------------------------------------------------------
# 3. gradcheck and gradgradcheck (through check_op) over a parametrized set of geometries
# --------------------------------------------------------------------------------------

GRAD_CASES = {  # name: (N, C, O, kernel, stride, padding, dilation, groups, output_padding, hw)
    "plain": (2, 2, 2, (3, 3), 1, 0, 1, 1, 0, (4, 5)),
    "stride2_pad1": (1, 2, 2, (3, 3), 2, 1, 1, 1, 1, (5, 4)),
    "stride3_pad2": (1, 1, 2, (2, 3), 3, 2, 1, 1, (2, 1), (4, 5)),
    "dilation2_pad1_outpad_ge_stride": (1, 2, 1, (2, 2), 1, 1, 2, 1, 1, (4, 4)),
    "dilation2_stride2": (1, 1, 2, (3, 2), 2, (2, 0), 2, 1, 1, (5, 5)),
    "dilation3_stride2_outpad2": (1, 1, 1, (2, 2), 2, 0, 3, 1, 2, (5, 5)),
    "groups2": (1, 4, 2, (3, 3), (1, 2), 1, 1, 2, (0, 1), (4, 4)),
    "groups3": (1, 3, 6, (3, 1), (2, 1), (1, 0), (1, 2), 3, 1, (5, 3)),
    "valid": (1, 2, 2, (2, 3), 1, "valid", 1, 1, 0, (3, 4)),
    "same_even_total": (1, 2, 2, (3, 3), 1, "same", 1, 1, 0, (4, 4)),
    "same_odd_total": (1, 2, 2, (2, 4), 1, "same", 1, 2, 0, (3, 4)),
    "same_dilated": (1, 1, 2, (2, 3), 1, "same", 2, 1, 0, (4, 4)),
    "same_dilated_odd": (1, 1, 1, (4, 2), 1, "same", (1, 3), 1, 0, (3, 4)),
}
INT_PADDING = sorted(k for k, v in GRAD_CASES.items() if not isinstance(v[5], str))


def _grad_case(name):
    n, c, o, kernel, stride, padding, dilation, groups, extra, hw = GRAD_CASES[name]
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    rng = np.random.default_rng(sorted(GRAD_CASES).index(name))
    x = rng.standard_normal((n, c, *hw))
    w = rng.standard_normal((o, c // groups, *kernel))
    return kw, extra, x, w, rng


def _conv_output_shape(x, w, kw):
    return (len(x), len(w), *_conv_hw(x.shape[2:], w.shape[2:], kw["stride"], kw["padding"],
                                      kw["dilation"]))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_conv2d_values_and_derivatives(impl, name):
    kw, _, x, w, rng = _grad_case(name)
    b = rng.standard_normal(w.shape[0])
    if kw["padding"] == "same":                          # the reference pads explicitly
        total = [d * (k - 1) for d, k in zip(_pair(kw["dilation"]), w.shape[2:])]

        def reference(x, w, b):
            x = np.pad(x, ((0, 0), (0, 0), (total[0] // 2, total[0] - total[0] // 2),
                           (total[1] // 2, total[1] - total[1] // 2)))
            return _with_bias(naive_conv2d(x, w, **dict(kw, padding=0)), b)
    else:
        def reference(x, w, b):
            return _with_bias(naive_conv2d(x, w, **dict(
                kw, padding=0 if kw["padding"] == "valid" else kw["padding"])), b)
    with implementation(impl):
        out = F.conv2d(_t(x), _t(w), **kw)
        if kw["padding"] == "same":
            assert out.shape[2:] == x.shape[2:]
        check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), reference, x, w, b)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", INT_PADDING)
def test_conv_transpose2d_values_and_derivatives(impl, name):
    kw, extra, x, w, rng = _grad_case(name)
    y = rng.standard_normal(_conv_output_shape(x, w, kw))
    kw = dict(kw, output_padding=extra)
    b = rng.standard_normal(x.shape[1])
    with implementation(impl):
        check_op(lambda y, w, b: F.conv_transpose2d(y, w, b, **kw),
                 lambda y, w, b: _with_bias(naive_conv_transpose2d(y, w, **kw), b), y, w, b)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", INT_PADDING)
def test_conv2d_weight_values_and_derivatives(impl, name):
    kw, _, x, w, rng = _grad_case(name)
    gy = rng.standard_normal(_conv_output_shape(x, w, kw))
    with implementation(impl):
        check_op(lambda x, gy: F.conv2d_weight(x, w.shape, gy, **kw),
                 lambda x, gy: naive_conv2d_weight(x, w.shape, gy, **kw), x, gy)


# --------------------------------------------------------------------------------------
# 4. Properties
# --------------------------------------------------------------------------------------

def _dot(a, b):
    return float(np.sum(np.asarray(a) * np.asarray(b)))


@given(problems())
def test_conv_transpose2d_and_conv2d_weight_are_the_adjoints_of_conv2d(problem):
    case, x, w, y, *_ = problem
    conv = F.conv2d(_t(x), _t(w), **case.conv).numpy()
    # with output_padding >= stride, conv2d yields extra rows that y does not pair with
    conv = conv[:, :, :case.y_hw[0], :case.y_hw[1]]
    lhs = _dot(conv, y)
    transposed = F.conv_transpose2d(_t(y), _t(w), **case.transpose)
    assert transposed.shape == x.shape
    assert _dot(x, transposed.numpy()) == pytest.approx(lhs, rel=1e-10, abs=1e-10)
    padded = np.zeros(case.conv_shape)                   # y and zeros for the extra rows
    padded[:, :, :case.y_hw[0], :case.y_hw[1]] = y
    gw = F.conv2d_weight(_t(x), w.shape, _t(padded), **case.conv)
    assert _dot(w, gw.numpy()) == pytest.approx(lhs, rel=1e-10, abs=1e-10)


@given(cases())
def test_output_shapes_follow_the_formulas(case):
    x, w = mg.zeros(*case.x_shape), mg.zeros(*case.w_shape)
    expected = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in zip(
        case.x_hw, case.kernel, case.stride, case.padding, case.dilation))
    assert F.conv2d(x, w, **case.conv).shape == (case.batch, case.out_channels, *expected)
    expected = tuple((size - 1) * s - 2 * p + d * (k - 1) + e + 1 for size, k, s, p, d, e in zip(
        case.y_hw, case.kernel, case.stride, case.padding, case.dilation, case.output_padding))
    y = mg.zeros(*case.y_shape)
    assert F.conv_transpose2d(y, w, **case.transpose).shape == (case.batch, case.channels,
                                                                 *expected)


@given(cases())
def test_output_shapes_match_torch(case):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w, y = torch.zeros(case.x_shape), torch.zeros(case.w_shape), torch.zeros(case.y_shape)
    assert F.conv2d(mg.zeros(*case.x_shape), mg.zeros(*case.w_shape), **case.conv).shape \
        == tuple(tf.conv2d(x, w, **case.conv).shape)
    assert F.conv_transpose2d(mg.zeros(*case.y_shape), mg.zeros(*case.w_shape),
                              **case.transpose).shape \
        == tuple(tf.conv_transpose2d(y, w, **case.transpose).shape)


@given(problems())
def test_groups_equal_separate_convolutions_concatenated(problem):
    case, x, w, y, *_ = problem
    g, c, o = case.groups, case.channels // case.groups, case.out_channels // case.groups
    params = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    pieces = [F.conv2d(_t(x[:, i * c:(i + 1) * c]), _t(w[i * o:(i + 1) * o]), **params)
              for i in range(g)]
    assert_close(F.conv2d(_t(x), _t(w), **case.conv), np.concatenate(
        [p.numpy() for p in pieces], axis=1), **TOLERANCES[np.float64])
    params["output_padding"] = case.output_padding
    pieces = [F.conv_transpose2d(_t(y[:, i * o:(i + 1) * o]), _t(w[i * o:(i + 1) * o]),
                                 **params) for i in range(g)]
    assert_close(F.conv_transpose2d(_t(y), _t(w), **case.transpose), np.concatenate(
        [p.numpy() for p in pieces], axis=1), **TOLERANCES[np.float64])


@given(problems(max_groups=1, max_kernel=1), st.integers(1, 3))
def test_1x1_conv_is_a_matmul_over_channels(problem, stride):
    _, x, w, *_ = problem
    expected = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x[:, :, ::stride, ::stride])
    assert_close(F.conv2d(_t(x), _t(w), stride=stride), expected, **TOLERANCES[np.float64])


@given(cases(stride=(1, 1)), _pairs(0, 2), _pairs(0, 3), st.integers(0, 2 ** 32 - 1))
def test_stride_one_conv_commutes_with_translation_away_from_the_border(case, shift, extra,
                                                                        seed):
    a, b = shift
    (kh, kw), (dh, dw), (ph, pw) = case.kernel, case.dilation, case.padding
    h, w = a + dh * (kh - 1) + 1 + extra[0], b + dw * (kw - 1) + 1 + extra[1]
    rng = np.random.default_rng(seed)
    big = rng.standard_normal((case.batch, case.channels, h + a, w + b))
    weight = _t(rng.standard_normal(case.w_shape))
    y1 = F.conv2d(_t(big[:, :, :h, :w]), weight, **case.conv).numpy()
    y2 = F.conv2d(_t(big[:, :, a:, b:]), weight, **case.conv).numpy()  # shifted by (a, b)
    # output rows i in [p, p + rows) read only real pixels in both images
    rows, cols = h - a - dh * (kh - 1), w - b - dw * (kw - 1)
    assert_close(y2[:, :, ph:ph + rows, pw:pw + cols],
                 y1[:, :, ph + a:ph + a + rows, pw + b:pw + b + cols], **TOLERANCES[np.float64])


@given(problems(groups=1))
def test_conv_transpose2d_is_conv2d_of_the_zero_inserted_input_with_the_flipped_kernel(
        problem):
    """x = conv2d(z, flip(w)^T, stride 1, padding 0), where z is y with stride-1 zeros
    between pixels, then padded by d (k - 1) - p on top/left and d (k - 1) - p + e on
    bottom/right (a negative pad crops)."""
    case, _, w, y, *_ = problem
    (sh, sw), (dh, dw), (kh, kw) = case.stride, case.dilation, case.kernel
    margin_h, margin_w = dh * (kh - 1), dw * (kw - 1)
    (hy, wy), (ph, pw), (eh, ew) = case.y_hw, case.padding, case.output_padding
    big = np.zeros((case.batch, case.out_channels, (hy - 1) * sh + 1 + 2 * margin_h + eh,
                    (wy - 1) * sw + 1 + 2 * margin_w + ew))
    big[:, :, margin_h:margin_h + (hy - 1) * sh + 1:sh,
        margin_w:margin_w + (wy - 1) * sw + 1:sw] = y
    z = big[:, :, ph:big.shape[2] - ph, pw:big.shape[3] - pw]
    flipped = np.flip(w, (2, 3)).transpose(1, 0, 2, 3)
    expected = F.conv2d(_t(z), _t(flipped), dilation=case.dilation)
    assert_close(F.conv_transpose2d(_t(y), _t(w), **case.transpose), expected,
                 **TOLERANCES[np.float64])


# --------------------------------------------------------------------------------------
# 5. Against PyTorch
# --------------------------------------------------------------------------------------

def _torch_grads(torch, fn, inputs, gout):
    leaves = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*leaves)
    return out.detach().numpy(), [g.numpy() for g in torch.autograd.grad(
        out, leaves, torch.tensor(gout))]


def _minigan_grads(fn, inputs, gout):
    leaves = [_t(a, requires_grad=True) for a in inputs]
    out = fn(*leaves)
    return out.detach().numpy(), [g.numpy() for g in mg.grad(out, leaves, _t(gout))]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@given(problems())
def test_values_and_gradients_match_torch(impl, problem):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    case, x, w, y, gy, b_out, b_in = problem
    weight_size = case.w_shape
    pairs = [  # (minigan fn, torch fn, inputs, output gradient)
        (lambda x, w, b: F.conv2d(x, w, b, **case.conv),
         lambda x, w, b: tf.conv2d(x, w, b, **case.conv), (x, w, b_out), gy),
        (lambda y, w, b: F.conv_transpose2d(y, w, b, **case.transpose),
         lambda y, w, b: tf.conv_transpose2d(y, w, b, **case.transpose), (y, w, b_in), x),
        (lambda x, gy: F.conv2d_weight(x, weight_size, gy, **case.conv),
         lambda x, gy: torch.nn.grad.conv2d_weight(x, weight_size, gy, **case.conv),
         (x, gy), w),
    ]
    with implementation(impl):
        for name, (ours, theirs, inputs, gout) in zip(OPS, pairs):
            got, got_grads = _minigan_grads(ours, inputs, gout)
            want, want_grads = _torch_grads(torch, theirs, inputs, gout)
            assert_close(got, want, msg=f"{name}: ", **TOLERANCES[np.float64])
            for i, (g, r) in enumerate(zip(got_grads, want_grads)):
                assert_close(g, r, msg=f"{name}, gradient {i}: ", **TOLERANCES[np.float64])


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((2, 4), 1), ((2, 3), 2),
                                             ((4, 2), (1, 3))])
def test_same_and_valid_padding_match_torch(kernel, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, *kernel))
    for padding in ("same", "valid"):
        def ours(x, w):
            return F.conv2d(x, w, padding=padding, dilation=dilation)

        def theirs(x, w):
            return torch.nn.functional.conv2d(x, w, padding=padding, dilation=dilation)
        gy = rng.standard_normal(ours(_t(x), _t(w)).shape)
        got, got_grads = _minigan_grads(ours, (x, w), gy)
        want, want_grads = _torch_grads(torch, theirs, (x, w), gy)
        for g, r in zip([got, *got_grads], [want, *want_grads]):
            assert_close(g, r, **TOLERANCES[np.float64])


# --------------------------------------------------------------------------------------
# 6. Bad input: a clear error naming the op and the shapes
# --------------------------------------------------------------------------------------

def _z(*shape, dtype=mg.float64):
    return mg.zeros(*shape, dtype=dtype)


X, W, WT = _z(1, 4, 5, 5), _z(6, 2, 3, 3), _z(4, 3, 3, 3)
SHAPES = r"input \(1, 4, 5, 5\), weight \(6, 2, 3, 3\)"
T_SHAPES = r"input \(1, 4, 5, 5\), weight \(4, 3, 3, 3\)"
BAD_INPUTS = {  # name: (call, error type, message pattern)
    "channels_do_not_match_weight": (
        lambda: F.conv2d(_z(1, 3, 5, 5), _z(6, 2, 3, 3)), ValueError,
        r"conv2d: input has 3 channels but the weight expects C/groups x groups = 2 x 1 = 2 "
        r"\(input \(1, 3, 5, 5\), weight \(6, 2, 3, 3\)"),
    "channels_do_not_match_weight_times_groups": (
        lambda: F.conv2d(X, _z(6, 1, 3, 3), groups=2), ValueError,
        r"conv2d: input has 4 channels but the weight expects .* = 1 x 2 = 2 \(input "
        r"\(1, 4, 5, 5\), weight \(6, 1, 3, 3\)"),
    "transpose_channels_do_not_match_weight": (
        lambda: F.conv_transpose2d(_z(1, 3, 5, 5), WT), ValueError,
        r"conv_transpose2d: input has 3 channels but the weight expects 4 .*input "
        r"\(1, 3, 5, 5\), weight \(4, 3, 3, 3\)"),
    "groups_do_not_divide_channels": (
        lambda: F.conv2d(X, _z(6, 1, 3, 3), groups=3), ValueError,
        r"conv2d: groups=3 must divide both the input channels \(4\).*weight \(6, 1, 3, 3\)"),
    "transpose_groups_do_not_divide_channels": (
        lambda: F.conv_transpose2d(X, WT, groups=3), ValueError,
        r"conv_transpose2d: groups=3 must divide the input channels \(4\) \(" + T_SHAPES),
    "weight_groups_do_not_divide_channels": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(1, 6, 3, 3), groups=3), ValueError,
        r"conv2d_weight: with groups=3, the input channels \(4\).*input \(1, 4, 5, 5\), "
        r"grad_output \(1, 6, 3, 3\), weight size \(6, 2, 3, 3\)"),
    "zero_groups": (lambda: F.conv2d(X, W, groups=0), ValueError,
                    r"conv2d: groups must be a positive int, got 0 \(" + SHAPES),
    "kernel_larger_than_padded_input": (
        lambda: F.conv2d(X, _z(6, 4, 8, 3), padding=1), ValueError,
        r"conv2d: kernel \(8, 3\) with dilation \(1, 1\) is larger than the padded input "
        r"\(7, 7\).*input \(1, 4, 5, 5\), weight \(6, 4, 8, 3\)"),
    "dilated_kernel_larger_than_input": (
        lambda: F.conv2d(X, W, groups=2, dilation=3), ValueError,
        r"conv2d: kernel \(3, 3\) with dilation \(3, 3\) is larger than the padded input "
        r"\(5, 5\).*" + SHAPES),
    "weight_kernel_larger_than_input": (           # the empty grad_output "fits" it
        lambda: F.conv2d_weight(X, (6, 2, 6, 6), _z(1, 6, 0, 0), groups=2), ValueError,
        r"conv2d_weight: kernel \(6, 6\) .* larger than the padded input \(5, 5\).*"
        r"weight size \(6, 2, 6, 6\)"),
    "transpose_empty_output": (
        lambda: F.conv_transpose2d(_z(1, 4, 1, 1), WT, padding=2), ValueError,
        r"conv_transpose2d: padding \(2, 2\) leaves an empty output \(-1, -1\) \(input "
        r"\(1, 4, 1, 1\), weight \(4, 3, 3, 3\)"),
    "output_padding_equal_to_stride": (
        lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
        r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride "
        r"\(2, 2\) or dilation \(1, 1\) \(" + T_SHAPES),
    "output_padding_equal_to_stride_and_dilation": (
        lambda: F.conv_transpose2d(X, WT, stride=(1, 2), dilation=(3, 2),
                                   output_padding=(2, 2)), ValueError,
        r"conv_transpose2d: output_padding \(2, 2\) must be smaller .*" + T_SHAPES),
    "zero_stride": (lambda: F.conv2d(X, W, groups=2, stride=0), ValueError,
                    r"conv2d: stride must be positive, got 0 \(" + SHAPES),
    "negative_dilation": (lambda: F.conv2d(X, W, groups=2, dilation=(1, -1)), ValueError,
                          r"conv2d: dilation must be positive, got \(1, -1\) \(" + SHAPES),
    "transpose_zero_stride": (lambda: F.conv_transpose2d(X, WT, stride=(0, 1)), ValueError,
                              r"conv_transpose2d: stride must be positive.*" + T_SHAPES),
    "transpose_zero_dilation": (lambda: F.conv_transpose2d(X, WT, dilation=0), ValueError,
                                r"conv_transpose2d: dilation must be positive.*" + T_SHAPES),
    "weight_zero_stride": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(1, 6, 3, 3), groups=2, stride=0),
        ValueError, r"conv2d_weight: stride must be positive.*grad_output \(1, 6, 3, 3\)"),
    "negative_padding": (lambda: F.conv2d(X, W, groups=2, padding=-1), ValueError,
                         r"conv2d: padding must be non-negative, got -1 \(" + SHAPES),
    "transpose_negative_padding": (
        lambda: F.conv_transpose2d(X, WT, padding=(0, -2)), ValueError,
        r"conv_transpose2d: padding must be non-negative, got \(0, -2\) \(" + T_SHAPES),
    "transpose_negative_output_padding": (
        lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=-1), ValueError,
        r"conv_transpose2d: output_padding must be non-negative.*" + T_SHAPES),
    "non_integer_stride": (lambda: F.conv2d(X, W, groups=2, stride=1.5), TypeError,
                           r"conv2d: stride must be an int or a pair of ints, got 1.5 \("
                           + SHAPES),
    "stride_of_three": (lambda: F.conv2d(X, W, groups=2, stride=(1, 1, 1)), TypeError,
                        r"conv2d: stride must be an int or a pair of ints, got \(1, 1, 1\) \("
                        + SHAPES),
    "bool_in_a_pair": (lambda: F.conv2d(X, W, groups=2, dilation=(True, 1)), TypeError,
                       r"conv2d: dilation must be an int or a pair of ints, got \(True, 1\)"),
    "same_padding_with_stride_2": (
        lambda: F.conv2d(X, W, groups=2, padding="same", stride=2), ValueError,
        r"conv2d: padding='same' needs stride 1, got stride 2 \(" + SHAPES),
    "unknown_padding_string": (
        lambda: F.conv2d(X, W, groups=2, padding="full"), ValueError,
        r"conv2d: padding must be an int, a pair, 'same' or 'valid', got 'full' \(" + SHAPES),
    "transpose_padding_string": (
        lambda: F.conv_transpose2d(X, WT, padding="same"), TypeError,
        r"conv_transpose2d: padding must be an int or a pair of ints, got 'same'"),
    "bias_of_wrong_shape": (
        lambda: F.conv2d(X, W, _z(4), groups=2), ValueError,
        r"conv2d: bias must have shape \(6,\), got \(4,\) \(" + SHAPES),
    "transpose_bias_of_wrong_shape": (
        lambda: F.conv_transpose2d(X, WT, _z(4)), ValueError,
        r"conv_transpose2d: bias must have shape \(3,\), got \(4,\) \(" + T_SHAPES),
    "bias_of_wrong_dtype": (
        lambda: F.conv2d(X, W, _z(6, dtype=mg.float32), groups=2), TypeError,
        r"conv2d: bias is float32 but input is float64 \(" + SHAPES),
    "input_and_weight_dtypes_differ": (
        lambda: F.conv2d(X, W.float(), groups=2), TypeError,
        r"conv2d: input is float64 but weight is float32 \(" + SHAPES),
    "transpose_dtypes_differ": (
        lambda: F.conv_transpose2d(X.float(), WT), TypeError,
        r"conv_transpose2d: input is float32 but weight is float64 \(" + T_SHAPES),
    "weight_dtypes_differ": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(1, 6, 3, 3, dtype=mg.float32), groups=2),
        TypeError, r"conv2d_weight: input is float64 but grad_output is float32 \(input "
                   r"\(1, 4, 5, 5\), grad_output \(1, 6, 3, 3\)"),
    "input_not_4d": (lambda: F.conv2d(_z(4, 5, 5), W, groups=2), ValueError,
                     r"conv2d: input must be 4-D, got shape \(4, 5, 5\) \(input \(4, 5, 5\), "
                     r"weight \(6, 2, 3, 3\)"),
    "weight_not_4d": (lambda: F.conv2d(X, _z(6, 2, 3), groups=2), ValueError,
                      r"conv2d: weight must be 4-D, got shape \(6, 2, 3\)"),
    "transpose_input_not_4d": (lambda: F.conv_transpose2d(_z(1, 1, 4, 5, 5), WT), ValueError,
                               r"conv_transpose2d: input must be 4-D, got shape "
                               r"\(1, 1, 4, 5, 5\)"),
    "grad_output_not_4d": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(6, 3, 3), groups=2), ValueError,
        r"conv2d_weight: grad_output must be 4-D, got shape \(6, 3, 3\)"),
    "integer_input": (
        lambda: F.conv2d(mg.zeros(1, 4, 5, 5, dtype=mg.int64), W, groups=2), TypeError,
        r"conv2d: input must be floating-point, got int64 \(" + SHAPES),
    "transpose_integer_input": (
        lambda: F.conv_transpose2d(mg.zeros(1, 4, 5, 5, dtype=mg.int64), WT), TypeError,
        r"conv_transpose2d: input must be floating-point, got int64 \(" + T_SHAPES),
    "weight_integer_input": (
        lambda: F.conv2d_weight(mg.zeros(1, 4, 5, 5, dtype=mg.int64), (6, 2, 3, 3),
                                _z(1, 6, 3, 3), groups=2), TypeError,
        r"conv2d_weight: input must be floating-point, got int64"),
    "grad_output_of_wrong_spatial_size": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(1, 6, 2, 3), groups=2), ValueError,
        r"conv2d_weight: grad_output should have spatial size \(3, 3\), got \(2, 3\) \(input "
        r"\(1, 4, 5, 5\), grad_output \(1, 6, 2, 3\), weight size \(6, 2, 3, 3\)"),
    "grad_output_of_wrong_channels": (
        lambda: F.conv2d_weight(X, (6, 2, 3, 3), _z(1, 5, 3, 3), groups=2), ValueError,
        r"conv2d_weight: grad_output must have batch 1 and 6 channels .*grad_output "
        r"\(1, 5, 3, 3\)"),
    "weight_size_not_4_ints": (
        lambda: F.conv2d_weight(X, (6, 2, 3), _z(1, 6, 3, 3), groups=2), ValueError,
        r"conv2d_weight: weight_size must be 4 positive ints .*got \(6, 2, 3\)"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_raises_a_clear_error(name):
    call, error, pattern = BAD_INPUTS[name]
    with pytest.raises(error, match=pattern):
        call()


# --------------------------------------------------------------------------------------
# 7. The WGAN-GP use case: second derivatives through a conv critic
# --------------------------------------------------------------------------------------

def _gradient_penalty(x, w1, b1, w2, b2):
    """((|d critic / d x| - 1)^2).mean() of critic = conv2d -> leaky_relu -> conv2d -> sum."""
    x = x.detach().requires_grad_()
    hidden = F.leaky_relu(F.conv2d(x, w1, b1, stride=2, padding=1), 0.2)
    scores = F.conv2d(hidden, w2, b2, dilation=(1, 2)).sum()
    (g,) = mg.grad(scores, x, create_graph=True)
    return (((g * g).sum((1, 2, 3)).sqrt() - 1) ** 2).mean()


def _critic():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 6))
    weights = [rng.standard_normal(s) for s in [(3, 2, 3, 3), (3,), (1, 3, 2, 2), (1,)]]
    pre = naive_conv2d(x, weights[0], stride=2, padding=1) + weights[1].reshape(1, -1, 1, 1)
    assert np.abs(pre).min() > 1e-3                      # finite differences stay off the kink
    return x, weights


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_gradient_penalty_of_a_conv_critic_has_correct_weight_gradients(impl):
    x, weights = _critic()
    with implementation(impl):
        gradcheck(_gradient_penalty, [_t(x)] + [_t(a, requires_grad=True) for a in weights])


def test_gradient_penalty_of_a_conv_critic_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, weights = _critic()

    def penalty(x, w1, b1, w2, b2):
        x = x.detach().requires_grad_()
        hidden = tf.leaky_relu(tf.conv2d(x, w1, b1, stride=2, padding=1), 0.2)
        scores = tf.conv2d(hidden, w2, b2, dilation=(1, 2)).sum()
        (g,) = torch.autograd.grad(scores, x, create_graph=True)
        return (((g * g).sum((1, 2, 3)).sqrt() - 1) ** 2).mean()

    theirs = [torch.tensor(a, requires_grad=True) for a in weights]
    want = penalty(torch.tensor(x), *theirs)
    want_grads = torch.autograd.grad(want, theirs, allow_unused=True)
    ours = [_t(a, requires_grad=True) for a in weights]
    got = _gradient_penalty(_t(x), *ours)
    assert got.item() == pytest.approx(want.item(), rel=1e-12)
    # the input gradient does not depend on the biases (leaky_relu' is piecewise constant):
    # an unused input (None) must match an all-zero gradient
    for a, g, r in zip(weights, mg.grad(got, ours, allow_unused=True), want_grads):
        assert_close(np.zeros(a.shape) if g is None else g,
                     np.zeros(a.shape) if r is None else r.numpy(), **TOLERANCES[np.float64])
