"""Tests for minigan/autograd.py: Function, backward, grad, modes, hooks, anomalies."""
import gc
import re
import threading
from types import SimpleNamespace

import numpy as np
import pytest

import minigan as mg
from minigan.testing import assert_close, gradcheck, gradgradcheck


class GradReverse(mg.Function):
    """The documented example: y = x, dL/dx = -lam dL/dy."""

    def forward(ctx, x, lam=1.0):
        ctx.lam = lam
        return x.copy()

    def backward(ctx, gy):
        return -ctx.lam * gy


def leaf(*shape, dtype=mg.float64, seed=0):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------ Function --

def test_user_function_gradient_reversal():
    x = leaf(3)
    y = GradReverse.apply(x, lam=0.5)
    assert_close(y, x.detach())
    (y * y).sum().backward()
    assert_close(x.grad, -0.5 * 2 * x.detach())


def test_user_function_with_staticmethods():
    class Cube(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x ** 3

        @staticmethod
        def backward(ctx, gy):
            x, = ctx.inputs
            return 3 * gy * x * x

    x = leaf(4)
    gradcheck(Cube.apply, [x])
    gradgradcheck(Cube.apply, [x])


def test_apply_rejects_non_tensor_inputs():
    with pytest.raises(TypeError, match=r"GradReverse.apply: input 0 must be a Tensor"):
        GradReverse.apply(np.ones(3))


def test_backward_with_wrong_gradient_count_names_the_function():
    class Bad(mg.Function):
        def forward(ctx, a, b):
            return a + b

        def backward(ctx, gy):
            return gy

    a, b = leaf(2), leaf(2)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned 1 gradients for 2 inputs"):
        Bad.apply(a, b).sum().backward()


def test_backward_with_wrong_gradient_shape_names_the_function():
    class Bad(mg.Function):
        def forward(ctx, x):
            return x.sum()

        def backward(ctx, gy):
            return gy

    with pytest.raises(RuntimeError, match=r"Bad.backward \(input 0\): gradient of shape "
                                           r"\(\) for a tensor of shape \(3,\)"):
        Bad.apply(leaf(3)).backward()


def test_inputs_must_be_tensors_or_none():
    with pytest.raises(TypeError, match=r"^GradReverse.apply: input 0 must be a Tensor or "
                                        r"None, got ndarray$"):
        GradReverse.apply(np.ones(3))


def test_backward_returning_an_array_names_the_function():
    class Bad(mg.Function):
        def forward(ctx, x):
            return 2 * x

        def backward(ctx, gy):
            return 2 * gy.data

    with pytest.raises(TypeError, match=r"^Bad.backward \(input 0\): gradients must be "
                                        r"Tensors, got ndarray$"):
        Bad.apply(leaf(3)).sum().backward()


def test_gradient_is_cast_to_the_input_dtype():
    class Upcast(mg.Function):
        def forward(ctx, x):
            return x.astype(np.float64)

        def backward(ctx, gy):
            return gy

    x = leaf(3, dtype=mg.float32)
    Upcast.apply(x).sum().backward()
    assert x.grad.dtype == mg.float32


def test_only_needed_input_gradients_are_computed():
    seen = []

    class Spy(mg.Function):
        def forward(ctx, a, b):
            return a * b

        def backward(ctx, gy):
            seen.append(ctx.needs_input_grad)
            a, b = ctx.inputs
            return (gy * b if ctx.needs_input_grad[0] else None,
                    gy * a if ctx.needs_input_grad[1] else None)

    a, b = leaf(3), leaf(3, seed=1)
    (ga,) = mg.grad(Spy.apply(a, b).sum(), a)
    assert seen == [(True, False)]
    assert_close(ga, b.detach())


# ----------------------------------------------------------- backward / grad --

def test_backward_of_non_scalar_needs_a_gradient():
    y = leaf(2, 3) * 2
    with pytest.raises(RuntimeError, match=r"backward: output 0 has shape \(2, 3\); a "
                                           r"gradient can be created implicitly only"):
        y.backward()
    y.backward(mg.ones(2, 3, dtype=mg.float64))


def test_backward_on_tensor_without_graph_fails_clearly():
    with pytest.raises(RuntimeError, match="does not require grad and has no graph"):
        mg.ones(3).sum().backward()


def test_gradients_accumulate_on_leaves():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, np.full(3, 5.0))


def test_leaf_grad_owns_its_memory():
    a, b = leaf(3), leaf(3, seed=1)
    (a + b).sum().backward()             # both gradients come from the same array
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0
    assert a.grad.data.flags.writeable


def test_second_backward_through_freed_graph_fails_clearly():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through \w+ a second time: its saved "
                                           r"values were freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    assert_close(x.grad, 2 * first)


def test_saved_values_are_freed_after_backward():
    x = leaf(3)
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node._output is None and node.inputs == ()


def test_grad_returns_without_accumulating():
    x = leaf(3)
    (g,) = mg.grad((x * x).sum(), x)
    assert x.grad is None
    assert_close(g, 2 * x.detach())


def test_grad_of_unrelated_input_needs_allow_unused():
    x, z = leaf(3), leaf(2)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(2,\)\) is not used in "
                                           r"the graph of the outputs; pass allow_unused"):
        mg.grad(y, [x, z], retain_graph=True)
    gx, gz = mg.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx is not None


def test_grad_with_respect_to_intermediate_tensor():
    x = leaf(3)
    h = x.exp()
    y = (h * h).sum()
    gh, gx = mg.grad(y, [h, x])
    assert_close(gh, 2 * h.detach())
    assert_close(gx, 2 * h.detach() * h.detach())


def test_third_derivative_through_create_graph():
    x = leaf(5)
    y = (x ** 4).sum()
    (g1,) = mg.grad(y, x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    assert_close(g1, 4 * x.detach() ** 3)
    assert_close(g2, 12 * x.detach() ** 2)
    assert_close(g3, 24 * x.detach())


def test_backward_with_create_graph_makes_differentiable_grads():
    x = leaf(3)
    x.tanh().sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = mg.grad(x.grad.sum(), x)
    t = np.tanh(x.detach().numpy())
    assert_close(gg, -2 * t * (1 - t * t))


def test_long_chain_does_not_recurse():
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()


def test_a_node_used_twice_gets_both_gradients():
    x = leaf(3)
    h = x * 2
    y = (h * h + h).sum()
    y.backward()
    assert_close(x.grad, 2 * (2 * 2 * x.detach() + 1))


@pytest.mark.parametrize("shape", [(3,), ()])
def test_gradients_from_two_uses_are_summed_by_a_node_only_when_recorded(shape, monkeypatch):
    """A plain backward adds the arrays (no Add node: nothing will differentiate the sum);
    with create_graph the sum is an Add node, differentiable again. Same numbers."""
    x = mg.tensor(np.linspace(-1.0, 2.0, 3)[:int(np.prod(shape))].reshape(shape),
                  requires_grad=True)
    applied = []
    apply = mg.Function.apply.__func__

    def counted(cls, *inputs, **params):
        applied.append(cls.__name__)
        return apply(cls, *inputs, **params)
    monkeypatch.setattr(mg.Function, "apply", classmethod(counted))
    y = (x * x.exp()).sum()                       # x reaches y twice
    applied.clear()
    (plain,) = mg.grad(y, [x], retain_graph=True)
    assert "Add" not in applied and not plain.requires_grad and plain.shape == shape
    (recorded,) = mg.grad(y, [x], create_graph=True)
    assert recorded.grad_fn.name == "Add"
    assert_close(plain, recorded.detach(), rtol=1e-15, atol=0)
    assert_close(plain, (x.exp() * (1 + x)).detach(), rtol=1e-14, atol=0)


# ------------------------------------------------------------------- modes --

def test_no_grad_and_enable_grad_nest():
    x = leaf(2)
    with mg.no_grad():
        assert not (x * 2).requires_grad
        with mg.enable_grad():
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_no_grad_as_decorator_and_set_grad_enabled():
    x = leaf(2)

    @mg.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    with mg.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad


def test_detach_shares_storage_and_cuts_the_graph():
    x = leaf(3)
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None
    z = x.detach()
    assert z.data is x.data


def test_requires_grad_rules():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients, "
                                        r"got int64 \(shape \(3,\)\)"):
        mg.tensor([1, 2, 3]).requires_grad_()
    y = leaf(2) * 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)


# ------------------------------------------------------------------- hooks --

def test_hook_on_leaf_sees_and_replaces_the_gradient():
    x = leaf(3)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert_close(seen[0], np.full(3, 2.0))
    assert_close(x.grad, np.full(3, 20.0))


def test_hook_on_intermediate_changes_what_flows_back():
    x = leaf(3)
    h = x * 3
    remove = h.register_hook(lambda g: g * 0)
    (h * h).sum().backward()
    assert_close(x.grad, np.zeros(3))
    remove()
    x.grad = None
    h2 = x * 3
    (h2 * h2).sum().backward()
    assert_close(x.grad, 18 * x.detach())


def test_hook_returning_a_wrong_shape_fails():
    x = leaf(3)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook on leaf tensor: gradient of shape \(\)"):
        (x * 2).sum().backward()


def test_retain_grad_keeps_intermediate_gradient():
    x = leaf(3)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert_close(h.grad, 2 * h.detach())


# --------------------------------------------------------------- anomalies --

@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_detect_anomaly_names_op_and_source_line_of_forward_nan():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with mg.detect_anomaly():
        with pytest.raises(mg.AnomalyError) as info:
            x.log()                                    # the line the report must name
    message = str(info.value)
    assert "forward of Log produced nan in 1 of 2 elements" in message
    assert re.search(r"test_autograd\.py:\d+: x\.log\(\)", message)


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
def test_detect_anomaly_names_op_of_backward_inf():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = x.sqrt().sum()                             # finite forward, infinite gradient
        with pytest.raises(mg.AnomalyError, match=r"backward of Sqrt produced inf in 1 of 2 "
                                                  r"elements.*test_autograd\.py:\d+: "
                                                  r"y = x\.sqrt\(\)\.sum\(\)"):
            y.backward()


def test_modes_are_per_thread_and_a_new_thread_starts_with_the_defaults():
    seen = {}

    def probe(name):
        seen[name] = (mg.is_grad_enabled(), mg.is_anomaly_enabled(),
                      (leaf(2) * 2).requires_grad)

    with mg.no_grad(), mg.detect_anomaly():
        thread = threading.Thread(target=probe, args=("inside",))
        thread.start()
        thread.join()
        assert not mg.is_grad_enabled() and mg.is_anomaly_enabled()

    def switch_off():
        mg.set_grad_enabled(False).__enter__()
        mg.set_detect_anomaly(True)
        probe("switched")

    thread = threading.Thread(target=switch_off)
    thread.start()
    thread.join()
    assert seen == {"inside": (True, False, True), "switched": (False, True, False)}
    assert mg.is_grad_enabled() and not mg.is_anomaly_enabled()


def test_anomaly_mode_is_off_by_default_and_restored():
    assert not mg.is_anomaly_enabled()
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.tensor([-1.0]).log().item())


# ------------------------------------------------------------------ devices --

class FakeGpuArray:
    """Stands in for a CuPy array on cuda:0: the device check runs before any arithmetic."""

    shape, ndim, size, dtype = (2, 3), 2, 6, np.dtype(np.float32)
    device = SimpleNamespace(id=0)            # as cupy.ndarray.device


def test_mixing_devices_fails_clearly():
    cpu = mg.ones(2, 3)
    gpu = mg.Tensor(FakeGpuArray())
    with pytest.raises(RuntimeError, match=r"Add: expected all tensors on one device, got "
                                           r"\(2, 3\) on cpu, \(2, 3\) on cuda:0"):
        cpu + gpu


class Identity(mg.Function):
    def forward(ctx, x):
        return x

    def backward(ctx, gy):
        return gy


def test_a_gradient_on_another_gpu_fails_clearly():
    other = FakeGpuArray()
    other.device = SimpleNamespace(id=1)
    x = mg.Tensor(FakeGpuArray(), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^grad \(grad for output 0\): gradient on "
                                           r"cuda:1 for a tensor on cuda:0$"):
        mg.grad(Identity.apply(x), x, mg.Tensor(other))


# ---------------------------------------------------- end to end: WGAN-GP --

def _critic(x, w1, b1, w2, b2):
    """A two-layer MLP critic D(x) = w2 . softplus(w1 x + b1) + b2.   x: (B, 2) -> (B, 1)"""
    return mg.nn.functional.linear(mg.nn.functional.softplus(
        mg.nn.functional.linear(x, w1, b1)), w2, b2)


def _gradient_penalty(w1, b1, w2, b2, real, fake, eps):
    """GP = mean_i (||grad_x D(x_i)||_2 - 1)^2 at x = eps * real + (1 - eps) * fake."""
    x = (eps * real + (1 - eps) * fake).detach().requires_grad_()
    d = _critic(x, w1, b1, w2, b2)
    (g,) = mg.grad(d.sum(), x, create_graph=True)
    return ((mg.vector_norm(g, dim=1) - 1) ** 2).mean()


def test_wgan_gp_penalty_of_mlp_critic_gradchecks_wrt_weights():
    rng = np.random.default_rng(0)
    params = [mg.tensor(rng.standard_normal(s) * 0.7, dtype=mg.float64, requires_grad=True)
              for s in [(8, 2), (8,), (1, 8), (1,)]]
    real = mg.tensor(rng.standard_normal((5, 2)), dtype=mg.float64)
    fake = mg.tensor(rng.standard_normal((5, 2)), dtype=mg.float64)
    eps = mg.tensor(rng.uniform(size=(5, 1)), dtype=mg.float64)
    gradcheck(lambda *p: _gradient_penalty(*p, real, fake, eps), params)
    penalty = _gradient_penalty(*params, real, fake, eps)
    penalty.backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in params[:3])
