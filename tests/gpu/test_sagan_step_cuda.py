"""A WGAN-GP critic step of a SAGAN critic (spectral norm on every layer, self-attention at
8x8) on the GPU against the same step on the CPU, with each GPU implementation of the hot
ops forced in turn: the Triton kernels (TF32 off) and the CUDA C++ kernels. Skipped
without a GPU (and the CUDA row without minigan._C's CUDA kernels)."""
import contextlib

import numpy as np
import pytest

import minigan as mg
from minigan import cuda_kernels
from minigan.backend import use_implementation
from minigan.testing import assert_close

pytestmark = pytest.mark.gpu

HOT_OPS = ["conv2d", "conv_transpose2d", "conv2d_weight", "spectral_norm_power_iteration",
           "attention", "attention_backward"]


def _critic_step(device, dtype):
    """Critic loss with the gradient penalty (lambda 10) on a 32x32 batch of 8; returns
    the loss and the gradients of the critic's parameters."""
    from minigan.zoo.networks import DCGANCritic
    from minigan.zoo.penalties import gradient_penalty
    mg.manual_seed(0)
    critic = DCGANCritic(3, 32, width=16, norm="none", spectral=True, attention_at=8)
    critic.to(dtype=dtype, device=device)
    rng = np.random.default_rng(3)
    real, fake = (mg.tensor(rng.standard_normal((8, 3, 32, 32)), dtype=dtype, device=device)
                  for _ in range(2))
    loss = (critic(fake).mean() - critic(real).mean()
            + 10 * gradient_penalty(critic, real, fake, mg.Generator(4)))
    loss.backward()
    return loss, [p.grad for p in critic.parameters()]


@pytest.mark.parametrize("impl", ["triton", "cuda"])
@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
def test_wgan_gp_step_of_a_sagan_critic_on_the_gpu_matches_the_cpu(impl, dtype, monkeypatch):
    if impl == "cuda" and cuda_kernels.why_unavailable() is not None:
        pytest.skip(cuda_kernels.why_unavailable())
    from minigan.kernels import attention, conv
    monkeypatch.setattr(conv, "ALLOW_TF32", False)
    monkeypatch.setattr(attention, "ALLOW_TF32", False)
    loss_cpu, grads_cpu = _critic_step("cpu", dtype)
    with contextlib.ExitStack() as forced:
        for op in HOT_OPS:
            forced.enter_context(use_implementation(op, impl))
        loss_gpu, grads_gpu = _critic_step("cuda", dtype)
    assert loss_gpu.device == "cuda" and loss_gpu.dtype == dtype
    tolerance = dict(rtol=1e-9, atol=1e-11) if dtype == mg.float64 else dict(rtol=2e-4,
                                                                              atol=2e-5)
    assert_close(loss_gpu.detach().cpu(), loss_cpu.detach(), **tolerance)
    for g_gpu, g_cpu in zip(grads_gpu, grads_cpu):
        assert_close(g_gpu.cpu(), g_cpu, **tolerance)
