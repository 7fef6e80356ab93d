"""fastml.vi ELBO toolkit: reparameterisation and the analytic KL against torch, the
reference and finite differences."""

import numpy as np
import pytest

from fastml import vi
from fastml.reference import vi as ref


@pytest.fixture
def gauss():
    rng = np.random.default_rng(0)
    return [0.7 * rng.standard_normal((5, 4)) for _ in range(3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reparameterize_and_kl_match_torch(gauss, dtype):
    torch = pytest.importorskip("torch")
    mu, lv, eps = (a.astype(dtype) for a in gauss)
    tm, tl = (torch.tensor(a, requires_grad=True) for a in (mu, lv))
    z = tm + torch.exp(0.5 * tl) * torch.tensor(eps)
    kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(tm, torch.exp(0.5 * tl)),
        torch.distributions.Normal(torch.zeros_like(tm), torch.ones_like(tm))).sum(-1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    got = vi.reparameterize(mu, lv, eps)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, z.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(vi.kl_standard_normal(mu, lv), kl.detach().numpy(), rtol=rtol)
    grad_z = np.cos(mu)
    (z * torch.tensor(grad_z)).sum().backward(retain_graph=True)
    g_mu, g_lv = vi.reparameterize_backward(grad_z, lv, eps)
    np.testing.assert_allclose(g_mu, tm.grad.numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(g_lv, tl.grad.numpy(), rtol=rtol, atol=rtol)
    tm.grad = tl.grad = None
    weights = np.arange(1.0, 6.0, dtype=dtype)
    (kl * torch.tensor(weights)).sum().backward()
    k_mu, k_lv = vi.kl_standard_normal_backward(mu, lv, weights)
    np.testing.assert_allclose(k_mu, tm.grad.numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(k_lv, tl.grad.numpy(), rtol=rtol, atol=rtol)


def test_kl_gradient_finite_differences(gauss):
    mu, lv, _ = gauss
    g_mu, g_lv = vi.kl_standard_normal_backward(mu, lv)
    h = 1e-6
    for arr, grad in ((mu, g_mu), (lv, g_lv)):
        for idx in [(0, 0), (2, 3), (4, 1)]:
            up, down = arr.copy(), arr.copy()
            up[idx] += h
            down[idx] -= h
            args_up = (up, lv) if arr is mu else (mu, up)
            args_dn = (down, lv) if arr is mu else (mu, down)
            fd = (vi.kl_standard_normal(*args_up) - vi.kl_standard_normal(*args_dn))[idx[0]]
            assert fd / (2 * h) == pytest.approx(grad[idx], rel=1e-6, abs=1e-8)


def test_against_reference(gauss):
    mu, lv, eps = gauss
    np.testing.assert_allclose(vi.reparameterize(mu, lv, eps), ref.reparameterize(mu, lv, eps))
    np.testing.assert_allclose(vi.kl_standard_normal(mu, lv), ref.kl_standard_normal(mu, lv))


def test_kl_is_the_monte_carlo_expectation():
    rng = np.random.default_rng(1)
    mu, lv = np.array([0.5, -1.0]), np.array([-0.3, 0.4])
    eps = rng.standard_normal((200_000, 2))
    z = vi.reparameterize(np.broadcast_to(mu, eps.shape), np.broadcast_to(lv, eps.shape), eps)
    log_q = -0.5 * (eps ** 2 + lv + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi)).sum(1)
    mc = log_q - log_p
    assert abs(mc.mean() - vi.kl_standard_normal(mu, lv)) < 4 * mc.std() / np.sqrt(len(mc))


def test_bad_input():
    with pytest.raises(ValueError, match="log_var"):
        vi.reparameterize(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mu"):
        vi.kl_standard_normal(np.array([np.nan]), np.zeros(1))
    with pytest.raises(ValueError, match="grad_kl"):
        vi.kl_standard_normal_backward(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="mu"):
        vi.kl_standard_normal(1.0, 1.0)
