"""Tests for minigan/cuda_kernels.py on the CPU: the argument checks that run before any
CUDA launch (on NumPy arrays: they read shapes, dtypes and devices only), the registry
entries and the status that ``minigan.info()`` reports. The kernels' arithmetic is tested
in tests/csrc (on CPU threads) and tests/gpu (on a GPU)."""
import numpy as np
import pytest

import minigan as mg
from minigan import backend, cuda_kernels, extension
from minigan.ops.normalization import normalize_backward, normalize_forward
from minigan.optim.adam import adam_step_arrays

HOT_OPS = ["conv2d", "conv_transpose2d", "conv2d_weight", "spectral_norm_power_iteration",
           "attention", "attention_backward", "adam_step", "normalize_forward",
           "normalize_backward"]


@pytest.mark.parametrize("op", HOT_OPS)
def test_every_hot_op_has_a_cuda_implementation_for_cuda_tensors_only(op):
    impl = backend.implementations(op)["cuda"]
    assert impl.devices == ("cuda",)
    assert impl.why_unavailable() == cuda_kernels.why_unavailable()


def test_triton_stays_the_default_on_gpus_until_the_cuda_kernels_are_timed():
    order = backend.PREFERENCE["cuda"]
    assert order.index("triton") < order.index("cuda") < order.index("numpy")


def test_the_cuda_status_is_reported_by_info(capsys):
    mg.info()
    text = capsys.readouterr().out
    if extension.C is None:
        assert cuda_kernels.why_unavailable() == extension.WHY_NOT_BUILT
    else:
        assert f"CUDA kernels: {extension.CUDA_STATUS}" in text
        assert (cuda_kernels.why_unavailable() is None) == extension.CUDA


def test_arrays_of_another_dtype_are_refused_naming_the_op_and_each_dtype():
    w = np.zeros((4, 3), np.float16)
    u = np.zeros(4, np.float16)
    with pytest.raises(TypeError, match=r"spectral_norm_power_iteration \(cuda\): needs "
                                        r"float32 or float64 arrays of one dtype, got "
                                        r"weight float16, u float16"):
        cuda_kernels.check_power_iteration(w, u, 1, 1e-12)
    with pytest.raises(TypeError, match="weight float32, u float64"):
        cuda_kernels.check_power_iteration(w.astype(np.float32), u.astype(np.float64), 1,
                                           1e-12)


class GpuArray:
    """Answers what the checks ask of a float32 CuPy array on GPU ``index``."""

    dtype = np.dtype(np.float32)

    def __init__(self, shape, index=0):
        self.shape, self.ndim, self.size = shape, len(shape), int(np.prod(shape))
        self.device = type("CudaDevice", (), {"id": index})()


def test_arrays_on_different_devices_are_refused_naming_each_device():
    w = GpuArray((4, 3))
    with pytest.raises(ValueError, match=r"spectral_norm_power_iteration \(cuda\): all arrays "
                                         r"must be on one device, got weight on cuda:0, u on "
                                         r"cpu"):
        cuda_kernels.check_power_iteration(w, np.zeros(4, np.float32), 1, 1e-12)
    with pytest.raises(ValueError, match=r"got x on cuda:1, weight on cuda:0"):
        cuda_kernels.check_conv("conv2d", GpuArray((1, 3, 4, 4), 1), GpuArray((2, 3, 1, 1)),
                                mg.ops.conv.Geometry((1, 1), (0, 0), (1, 1), 1))
    assert cuda_kernels.check_power_iteration(w, GpuArray((4,)), 1, 1e-12) == "float32"


def test_power_iteration_checks_shapes_iterations_and_eps():
    w = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"needs weight \(M, N\) and u \(M,\), got weight "
                                         r"\(4, 3\), u \(3,\)"):
        cuda_kernels.check_power_iteration(w, np.zeros(3), 1, 1e-12)
    with pytest.raises(ValueError, match=r"weight of shape \(0, 3\) has no elements"):
        cuda_kernels.check_power_iteration(np.zeros((0, 3)), np.zeros(0), 1, 1e-12)
    with pytest.raises(ValueError, match="n_iterations >= 1 and eps > 0, got 0 and 1e-12"):
        cuda_kernels.check_power_iteration(w, np.zeros(4), 0, 1e-12)
    with pytest.raises(ValueError, match="got 1 and 0.0"):
        cuda_kernels.check_power_iteration(w, np.zeros(4), 1, 0.0)
    assert cuda_kernels.check_power_iteration(w, np.zeros(4), 2, 1e-12) == "float64"


def test_forcing_the_cuda_implementation_without_its_kernels_names_the_reason():
    if cuda_kernels.why_unavailable() is None:
        pytest.skip("minigan._C has its CUDA kernels here")
    with backend.use_implementation("spectral_norm_power_iteration", "cuda"):
        with pytest.raises(RuntimeError, match="implementation 'cuda' is unavailable: "):
            backend.implementation("spectral_norm_power_iteration", "cuda")


def test_attention_checks_shapes_keys_and_lse():
    q, k, v = np.zeros((2, 1, 5, 3)), np.zeros((2, 1, 7, 3)), np.zeros((2, 1, 7, 4))
    assert cuda_kernels.check_attention("attention", q, k, v) == "float64"
    with pytest.raises(ValueError, match=r"attention \(cuda\): shapes do not fit .* got q "
                                         r"\(2, 1, 5, 3\), k \(2, 1, 7, 2\), v \(2, 1, 7, 4\)"):
        cuda_kernels.check_attention("attention", q, k[..., :2], v)
    with pytest.raises(ValueError, match=r"attention \(cuda\): needs 4-D arrays"):
        cuda_kernels.check_attention("attention", q[0], k[0], v[0])
    with pytest.raises(ValueError, match="needs at least one key"):
        cuda_kernels.check_attention("attention", q, k[:, :, :0], v[:, :, :0])
    out, grad = np.zeros((2, 1, 5, 4)), np.zeros((2, 1, 5, 4))
    with pytest.raises(ValueError, match=r"attention_backward \(cuda\): lse must have shape "
                                         r"\(2, 1, 5\) and dtype float64, got \(2, 1, 5\) "
                                         "and float32"):
        cuda_kernels.check_attention("attention_backward", q, k, v, out,
                                     np.zeros((2, 1, 5), np.float32), grad)
    with pytest.raises(ValueError, match=r"grad_out \(2, 1, 4, 4\)"):
        cuda_kernels.check_attention("attention_backward", q, k, v, out, np.zeros((2, 1, 5)),
                                     grad[:, :, :4])
    with pytest.raises(TypeError, match="q float64, k float64, v float32"):
        cuda_kernels.check_attention("attention", q, k, v.astype(np.float32))


def test_conv_checks_channels_against_groups():
    from minigan.ops.conv import Geometry
    geo = Geometry((1, 1), (0, 0), (1, 1), 2)
    x, w = np.zeros((1, 4, 5, 5)), np.zeros((6, 2, 3, 3))
    assert cuda_kernels.check_conv("conv2d", x, w, geo) == "float64"
    with pytest.raises(ValueError, match=r"conv2d \(cuda\): x \(1, 3, 5, 5\), weight "
                                         r"\(6, 2, 3, 3\) do not fit groups = 2"):
        cuda_kernels.check_conv("conv2d", x[:, :3], w, geo)
    with pytest.raises(ValueError, match=r"weight \(5, 2, 3, 3\) do not fit groups = 2"):
        cuda_kernels.check_conv("conv2d", x, w[:5], geo)
    dy = np.zeros((1, 6, 3, 3))
    assert cuda_kernels.check_conv("conv_transpose2d", dy, w, geo, "dy", channels=0)
    with pytest.raises(ValueError, match=r"conv_transpose2d \(cuda\): dy \(1, 5, 3, 3\)"):
        cuda_kernels.check_conv("conv_transpose2d", dy[:, :5], w, geo, "dy", channels=0)
    with pytest.raises(TypeError, match="x float32, weight float64"):
        cuda_kernels.check_conv("conv2d", x.astype(np.float32), w, geo)
    with pytest.raises(ValueError, match=r"conv2d \(cuda\): needs 4-D arrays"):
        cuda_kernels.check_conv("conv2d", x[0], w, geo)


def test_conv_weight_gradient_checks_batch_and_groups():
    from minigan.ops.conv import Geometry
    geo = Geometry((1, 1), (0, 0), (1, 1), 2)
    x, dy = np.zeros((2, 4, 5, 5)), np.zeros((2, 6, 3, 3))
    assert cuda_kernels.check_conv_weight(x, dy, geo) == "float64"
    with pytest.raises(ValueError, match=r"conv2d_weight \(cuda\): x \(2, 4, 5, 5\), dy "
                                         r"\(1, 6, 3, 3\) do not fit groups = 2"):
        cuda_kernels.check_conv_weight(x, dy[:1], geo)
    with pytest.raises(ValueError, match=r"dy \(2, 5, 3, 3\) do not fit groups = 2"):
        cuda_kernels.check_conv_weight(x, dy[:, :5], geo)


def test_adam_step_checks_each_parameters_shape_one_dtype_and_the_optional_maximum():
    arrays = [[np.zeros(shape, np.float32) for shape in ((3, 2), (5,))] for _ in range(4)]
    assert cuda_kernels.check_adam_step(*arrays, [None, None]) == "float32"
    maxima = [np.zeros((3, 2), np.float32), np.zeros(5, np.float32)]
    assert cuda_kernels.check_adam_step(*arrays, maxima) == "float32"
    assert cuda_kernels.check_adam_step([], [], [], [], []) is None
    with pytest.raises(ValueError, match=r"adam_step \(cuda\): all arrays of parameter 1 must "
                                         r"have its shape, got param \(5,\), grad \(5,\), "
                                         r"exp_avg \(5,\), exp_avg_sq \(5,\), "
                                         r"max_exp_avg_sq \(6,\)"):
        cuda_kernels.check_adam_step(*arrays, [maxima[0], np.zeros(6, np.float32)])
    with pytest.raises(TypeError, match=r"adam_step \(cuda\): .*param float32, "
                                        r"grad float64"):
        cuda_kernels.check_adam_step(arrays[0], [arrays[1][0], np.zeros(5)], *arrays[2:],
                                     [None, None])
    with pytest.raises(TypeError, match=r"adam_step \(cuda\): .*params\[0\] float32, "
                                        r"params\[1\] float64"):
        cuda_kernels.check_adam_step(*([a[0], a[1].astype(np.float64)] for a in arrays),
                                     [None, None])
    with pytest.raises(ValueError, match=r"adam_step \(cuda\): needs one entry per parameter "
                                         r"in every list, got lengths params 2, grads 1, "
                                         r"exp_avgs 2, exp_avg_sqs 2, max_exp_avg_sqs 2"):
        cuda_kernels.check_adam_step(arrays[0], arrays[1][:1], *arrays[2:], [None, None])
    with pytest.raises(ValueError, match=r"adam_step \(cuda\): exp_avgs holds None; only "
                                         r"max_exp_avg_sqs may \(without amsgrad\)"):
        cuda_kernels.check_adam_step(*arrays[:2], [arrays[2][0], None], arrays[3], maxima)


def test_adam_step_hands_float16_to_the_numpy_code_instead_of_the_kernel():
    """The kernel takes float32 and float64; as Adam's default on a GPU it must not refuse
    float16 parameters (NumPy arrays here: no launch happens on this path)."""
    rng = np.random.default_rng(0)
    start, grad = rng.standard_normal(5).astype(np.float16), rng.standard_normal(5)
    arrays = [[start.copy()], [grad.astype(np.float16)], [np.zeros(5, np.float16)],
              [np.zeros(5, np.float16)], [None]]
    expected = [[None if a is None else a.copy() for a in entries] for entries in arrays]
    step = ([0.1], [0.001], 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False)
    cuda_kernels.adam_step(*arrays, *step)
    adam_step_arrays(*expected, *step)
    for got, want in zip(arrays[:4], expected):
        np.testing.assert_array_equal(got[0], want[0])
    assert not np.array_equal(arrays[0][0], start)


@pytest.mark.parametrize("shape, dims, affine_axes, layout", [
    ((8, 3, 5, 7), (0, 2, 3), (1,), (8, 3, 35, 3, False)),       # batch norm 2-D
    ((8, 3), (0,), (1,), (8, 3, 1, 3, False)),                   # batch norm 1-D
    ((8, 3, 11), (0, 2), (1,), (8, 3, 11, 3, False)),
    ((8, 3, 5, 7), (2, 3), (1,), (1, 24, 35, 3, False)),         # instance norm
    ((8, 3, 5, 7), (1, 2, 3), (1, 2, 3), (1, 8, 105, 105, True)),  # layer norm
    ((8, 3, 5, 7), (3,), (3,), (1, 120, 7, 7, True)),
    ((8, 2, 3, 35), (2, 3), (1, 2), None),                       # group norm (N, G, C/G, S)
    ((8, 3, 5, 7), (0, 2), (1,), None),                          # kept axes not contiguous
])
def test_normalize_layout_takes_batch_instance_and_layer_norm(shape, dims, affine_axes,
                                                              layout):
    assert cuda_kernels.normalize_layout(shape, dims, affine_axes) == layout


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.parametrize("case", ["group norm", "float16", "mixed dtypes", "empty"])
def test_the_norm_launchers_hand_what_the_kernel_does_not_take_to_the_array_code(case):
    """Layouts, dtypes and sizes the kernel does not take run the array code on the same
    arrays (NumPy arrays here: no launch happens on this path), with the running averages
    still updated."""
    rng = np.random.default_rng(1)
    dtype = np.float16 if case == "float16" else np.float32
    shape = (0, 3, 4, 4) if case == "empty" else (4, 3, 4, 4)
    x = rng.standard_normal(shape).astype(dtype)
    dims, affine_axes = ((2, 3), (1, 2)) if case == "group norm" else ((0, 2, 3), (1,))
    affine_shape = tuple(shape[i] for i in affine_axes)
    weight = rng.standard_normal(affine_shape).astype(
        np.float64 if case == "mixed dtypes" else dtype)
    bias = np.zeros(affine_shape, dtype)
    running = [np.zeros(3, dtype), np.ones(3, dtype)] if case != "group norm" else [None] * 2
    expected = [None if r is None else r.copy() for r in running]
    with np.errstate(invalid="ignore", divide="ignore"):
        got = cuda_kernels.normalize_forward(x, weight, bias, *running, 0.1, dims,
                                             affine_axes, 1e-5)
        want = normalize_forward(x, weight, bias, *expected, 0.1, dims, affine_axes, 1e-5)
    for g, w in zip(got + tuple(running), want + tuple(expected)):
        if w is not None:
            np.testing.assert_array_equal(g, w)
    if case != "empty":
        gy = rng.standard_normal(shape).astype(dtype)
        args = (weight, *want[1:], dims, affine_axes, True, (True, True, True))
        for g, w in zip(cuda_kernels.normalize_backward(gy, x, *args),
                        normalize_backward(gy, x, *args)):
            np.testing.assert_array_equal(g, w)
