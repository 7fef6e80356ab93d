"""fastml.diffusion vs Hugging Face diffusers (schedulers), the reference, finite
differences (denoiser gradients) and small trained models."""

import numpy as np
import pytest
from _testing import AtTime

from fastml import diffusion, nn
from fastml.models import DiffusionMLP
from fastml.reference import diffusion as reference

diffusers = pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"]
PREDICTIONS = ["epsilon", "sample", "v_prediction"]
SPACINGS = ["leading", "trailing", "linspace"]
PAIRS = [(diffusion.DDPMScheduler, "DDPMScheduler"), (diffusion.DDIMScheduler, "DDIMScheduler")]


def _oracle(name, **kwargs):
    return getattr(diffusers, name)(**kwargs)


def _same_schedule(ours, theirs):
    """diffusers builds its schedule in float32; give it our float64 one, so step outputs
    compare the update formulas for the same inputs."""
    theirs.alphas_cumprod = torch.from_numpy(ours.alphas_cumprod)
    theirs.betas = torch.from_numpy(ours.betas)
    theirs.alphas = torch.from_numpy(ours.alphas)
    if hasattr(theirs, "final_alpha_cumprod"):
        theirs.final_alpha_cumprod = torch.tensor(ours.final_alpha_cumprod, dtype=torch.float64)
    else:
        theirs.one = torch.tensor(1.0, dtype=torch.float64)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("zero_snr", [False, True])
def test_schedule_arrays_match_diffusers(schedule, zero_snr):
    ours = diffusion.DDPMScheduler(beta_schedule=schedule, rescale_betas_zero_snr=zero_snr,
                                   beta_start=0.00085, beta_end=0.012)
    theirs = diffusers.DDPMScheduler(beta_schedule=schedule, rescale_betas_zero_snr=zero_snr,
                                     beta_start=0.00085, beta_end=0.012)
    # diffusers' arrays are float32 (cumprod over 1000 factors): 1e-6 absolute plus the
    # float32 relative rounding of a 1000-term product
    for name in ("betas", "alphas", "alphas_cumprod"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name).numpy(),
                                   rtol=2e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours.betas, reference.betas(1000, 0.00085, 0.012, schedule,
                                                           zero_snr), rtol=1e-12, atol=1e-15)


def test_trained_betas_and_posterior_variance():
    betas = np.linspace(1e-4, 0.05, 50)
    ours = diffusion.DDPMScheduler(trained_betas=betas)
    theirs = diffusers.DDPMScheduler(trained_betas=betas, num_train_timesteps=50)
    np.testing.assert_allclose(ours.alphas_cumprod, theirs.alphas_cumprod.numpy(), rtol=1e-6)
    _same_schedule(ours, theirs)
    x0 = np.ones((1, 1))
    for t in range(1, 50):
        _, var = ours.posterior_mean_variance(x0, x0, t)
        assert abs(var - float(theirs._get_variance(t))) < 1e-12
        assert abs(var - reference.posterior(ours.alphas_cumprod, ours.betas, 1.0, 1.0, t)[1]) \
            < 1e-12


@pytest.mark.parametrize("cls,name", PAIRS)
@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("n", [1, 7, 50, 333])
def test_timesteps_match_diffusers(cls, name, spacing, n):
    offset = 1 if spacing == "leading" else 0
    ours = cls(timestep_spacing=spacing, steps_offset=offset)
    theirs = _oracle(name, timestep_spacing=spacing, steps_offset=offset)
    theirs.set_timesteps(n)
    np.testing.assert_array_equal(ours.set_timesteps(n), theirs.timesteps.numpy())


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large", "fixed_small_log"])
def test_ddpm_step_matches_diffusers(prediction, spacing, variance):
    rng = np.random.default_rng(0)
    x, out = rng.standard_normal((2, 4, 3, 3))
    kw = dict(prediction_type=prediction, timestep_spacing=spacing, variance_type=variance,
              clip_sample=spacing != "trailing", beta_schedule="squaredcos_cap_v2")
    ours, theirs = diffusion.DDPMScheduler(**kw), diffusers.DDPMScheduler(**kw)
    _same_schedule(ours, theirs)
    ours.set_timesteps(10)
    theirs.set_timesteps(10)
    for t in ours.timesteps:
        t = int(t)
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t),
                            dtype=torch.float64)
        expected = theirs.step(torch.from_numpy(out), t, torch.from_numpy(x),
                               generator=torch.Generator().manual_seed(t))
        actual = ours.step(out, t, x, variance_noise=noise.numpy())
        np.testing.assert_allclose(actual.prev_sample, expected.prev_sample.numpy(), atol=1e-6)
        np.testing.assert_allclose(actual.pred_original_sample,
                                   expected.pred_original_sample.numpy(), atol=1e-6)
        ref = reference.ddpm_step(ours.alphas_cumprod, out, t, ours.previous_timestep(t), x,
                                  noise.numpy(), prediction, variance,
                                  1.0 if kw["clip_sample"] else None)
        np.testing.assert_allclose(actual.prev_sample, ref, atol=1e-10)


def test_ddpm_learned_range_matches_diffusers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    for variance in ("learned", "learned_range"):
        # "learned": the second half is the variance itself; "learned_range": v in [-1, 1]
        low = 0.01 if variance == "learned" else -1.0
        out = np.concatenate([rng.standard_normal((2, 3, 4)), rng.uniform(low, 1, (2, 3, 4))], 1)
        ours = diffusion.DDPMScheduler(variance_type=variance)
        theirs = diffusers.DDPMScheduler(variance_type=variance)
        _same_schedule(ours, theirs)
        ours.set_timesteps(5)
        theirs.set_timesteps(5)
        for t in ours.timesteps[:-1]:
            t = int(t)
            noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t),
                                dtype=torch.float64)
            expected = theirs.step(torch.from_numpy(out), t, torch.from_numpy(x),
                                   generator=torch.Generator().manual_seed(t)).prev_sample
            actual = ours.step(out, t, x, variance_noise=noise.numpy()).prev_sample
            np.testing.assert_allclose(actual, expected.numpy(), atol=1e-6)


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_ddim_step_matches_diffusers(prediction, spacing, eta):
    rng = np.random.default_rng(2)
    x, out = rng.standard_normal((2, 5, 2))
    kw = dict(prediction_type=prediction, timestep_spacing=spacing,
              set_alpha_to_one=spacing != "linspace", clip_sample=eta == 0)
    ours, theirs = diffusion.DDIMScheduler(**kw), diffusers.DDIMScheduler(**kw)
    _same_schedule(ours, theirs)
    ours.set_timesteps(20)
    theirs.set_timesteps(20)
    for t in ours.timesteps:
        t = int(t)
        noise = rng.standard_normal(x.shape)
        expected = theirs.step(torch.from_numpy(out), t, torch.from_numpy(x), eta=eta,
                               variance_noise=torch.from_numpy(noise))
        actual = ours.step(out, t, x, eta=eta, variance_noise=noise)
        np.testing.assert_allclose(actual.prev_sample, expected.prev_sample.numpy(), atol=1e-6)
        np.testing.assert_allclose(actual.pred_original_sample,
                                   expected.pred_original_sample.numpy(), atol=1e-6)
        ref = reference.ddim_step(ours.alphas_cumprod, ours.final_alpha_cumprod, out, t,
                                  t - 1000 // 20, x, eta, noise, prediction,
                                  1.0 if kw["clip_sample"] else None)
        np.testing.assert_allclose(actual.prev_sample, ref, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_noise_and_velocity_match_diffusers(dtype):
    rng = np.random.default_rng(3)
    x0, noise = rng.standard_normal((2, 6, 2, 2)).astype(dtype)
    t = np.array([0, 5, 99, 500, 998, 999])
    ours, theirs = diffusion.DDPMScheduler(), diffusers.DDPMScheduler()
    _same_schedule(ours, theirs)
    xt = ours.add_noise(x0, noise, t)
    v = ours.get_velocity(x0, noise, t)
    assert xt.dtype == dtype and v.dtype == dtype
    args = (torch.from_numpy(x0), torch.from_numpy(noise), torch.from_numpy(t))
    # diffusers casts abar to float32 and forms sqrt(1 - abar) in float32 (cancellation
    # near abar = 1); ours is float64 rounded once to float32
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(xt, theirs.add_noise(*args).numpy(), atol=tol)
    np.testing.assert_allclose(v, theirs.get_velocity(*args).numpy(), atol=tol)
    np.testing.assert_allclose(xt, reference.add_noise(ours.alphas_cumprod, x0, noise, t),
                               atol=tol)


def test_bad_input():
    s = diffusion.DDPMScheduler()
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="timesteps"):
        s.add_noise(x, x, 1000)
    with pytest.raises(ValueError, match="timesteps"):
        s.add_noise(x, x, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="noise"):
        s.add_noise(x, np.zeros((3, 3)), 1)
    with pytest.raises(ValueError, match="beta_schedule"):
        diffusion.DDPMScheduler(beta_schedule="cubic")
    with pytest.raises(ValueError, match="prediction_type"):
        diffusion.DDIMScheduler(prediction_type="score")
    with pytest.raises(ValueError, match="timestep_spacing"):
        diffusion.DDIMScheduler(timestep_spacing="middle")
    with pytest.raises(ValueError, match="num_inference_steps"):
        s.set_timesteps(1001)
    s.set_timesteps(10)
    with pytest.raises(ValueError, match="timestep"):
        s.step(x, 1000, x)
    with pytest.raises(ValueError, match="model_output"):
        s.step(np.zeros((3, 3)), 900, x)


# ---------------------------------------------------------------- denoiser and training
@pytest.mark.parametrize("num_classes", [None, 3])
def test_denoiser_gradients_match_finite_differences(num_classes):
    model = DiffusionMLP(2, hidden=4, n_blocks=2, time_dim=4, num_classes=num_classes,
                         dtype=np.float64, random_state=0)
    x = np.random.default_rng(0).standard_normal((3, 2))
    y = None if num_classes is None else np.array([0, 3, 1])
    assert nn.gradcheck(AtTime(model, np.array([0, 10, 500]), y), x, atol=1e-6)


def test_loss_gradient_and_min_snr_weights():
    s = diffusion.DDPMScheduler(prediction_type="v_prediction")
    rng = np.random.default_rng(4)
    out, target = rng.standard_normal((2, 6, 3))
    t = np.array([0, 10, 100, 400, 800, 999])
    loss, grad = diffusion.diffusion_loss(out, target, t, s, snr_gamma=5.0)
    snr = s.alphas_cumprod[t] / (1 - s.alphas_cumprod[t])
    w = np.minimum(snr, 5.0) / (snr + 1)
    assert abs(loss - np.mean(w * np.mean((out - target) ** 2, axis=1))) < 1e-12
    e = np.zeros_like(out)
    e[2, 1] = 1e-6
    fd = (diffusion.diffusion_loss(out + e, target, t, s, snr_gamma=5.0)[0] -
          diffusion.diffusion_loss(out - e, target, t, s, snr_gamma=5.0)[0]) / 2e-6
    assert abs(fd - grad[2, 1]) < 1e-8


def _mixture(n, rng):
    means = np.array([[-2.0, 0.0], [2.0, 1.0]])
    comp = (rng.random(n) < 0.7).astype(int)  # weights (0.3, 0.7)
    return (means[comp] + 0.3 * rng.standard_normal((n, 2))).astype(np.float32), means


def test_ddim_eta0_is_deterministic_given_x_T():
    model = DiffusionMLP(2, hidden=16, n_blocks=1, random_state=0)
    s = diffusion.DDIMScheduler(num_train_timesteps=100)
    x_T = np.random.default_rng(5).standard_normal((50, 2)).astype(np.float32)
    a = diffusion.sample(model, s, x_T=x_T, num_inference_steps=10, random_state=1)
    b = diffusion.sample(model, s, x_T=x_T, num_inference_steps=10, random_state=2)
    np.testing.assert_array_equal(a, b)
    c = diffusion.sample(model, s, x_T=x_T, num_inference_steps=10, eta=1.0, random_state=2)
    assert not np.array_equal(a, c)


def _step_loop(model, s, x, steps, labels=None, w=None, phi=0.0, eta=0.0, seed=0):
    """DDIM by hand: the public forward and scheduler.step per timestep (CFG as
    guided_output), the noise of each step drawn as sample() draws it."""
    rng = np.random.default_rng(seed)
    s.set_timesteps(steps)
    for t in s.timesteps:
        if w is None:
            out = model.forward(x, int(t), labels)
        else:
            null = np.full(len(x), model.num_classes)
            out = diffusion.guided_output(model.forward(x, int(t), null),
                                          model.forward(x, int(t), labels), w, phi)
        noise = rng.standard_normal(x.shape).astype(x.dtype) if eta > 0 else None
        x = s.step(out, t, x, eta=eta, variance_noise=noise).prev_sample
    return x


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-3)])
@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("case", ["plain", "labels-eta", "cfg", "cfg-rescale", "no-blocks"])
def test_fused_mlp_ddim_matches_step_loop(dtype, tol, prediction, case):
    """The fused DiffusionMLP DDIM kernel is the forward + step loop (float64: to rounding).
    float32: the first steps divide the output by sqrt(abar_t) >= 0.0064 (epsilon) and
    guidance multiplies it by w, so the output's rounding (1e-7 relative, summation order
    of the GEMMs) grows by up to ~500 per step before the clipping and the contraction of
    the later steps; seen: 7e-4 at w = 3, <= 5e-5 otherwise."""
    kw = {"plain": {}, "labels-eta": dict(eta=0.6), "cfg": dict(w=3.0),
          "cfg-rescale": dict(w=2.0, phi=0.7), "no-blocks": {}}[case]
    model = DiffusionMLP(3, hidden=16, n_blocks=0 if case == "no-blocks" else 2, time_dim=8,
                         num_classes=None if case == "plain" else 3, dtype=dtype,
                         random_state=1)
    rng = np.random.default_rng(2)
    for p in model.parameters():    # away from the near-zero output of the initialisation
        p.data += (0.3 * rng.standard_normal(p.data.shape)).astype(dtype)
    s = diffusion.DDIMScheduler(prediction_type=prediction, clip_sample_range=2.0)
    x_T = rng.standard_normal((300, 3)).astype(dtype)   # more rows than one kernel tile
    labels = None if case in ("plain", "no-blocks") else np.arange(300) % 3
    expected = _step_loop(model, s, x_T.copy(), 20, labels, seed=5, **kw)
    got = diffusion.sample(model, s, x_T=x_T, num_inference_steps=20, labels=labels,
                           guidance_scale=kw.get("w"), guidance_rescale=kw.get("phi", 0.0),
                           eta=kw.get("eta", 0.0), random_state=5)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * max(1, np.abs(expected).max()))


def test_forward_accepts_one_timestep():
    """diffusers' models take a Python int or a 0-d tensor as the timestep of the batch."""
    model = DiffusionMLP(2, hidden=8, n_blocks=1, num_classes=2, random_state=0)
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    expected = model.forward(x, np.full(4, 7))
    for t in (7, np.int64(7), np.array(7), 7.0):
        np.testing.assert_array_equal(model.forward(x, t), expected)
    with pytest.raises(ValueError, match="t must"):
        model.forward(x, [7, 7])
    with pytest.raises(ValueError, match="y must"):
        model.forward(x, 7, np.array([0, 1, 3, 0]))


def test_training_recovers_mixture_weights_and_means():
    rng = np.random.default_rng(6)
    X, means = _mixture(4096, rng)
    model = DiffusionMLP(2, hidden=64, n_blocks=2, random_state=0)
    opt = nn.Adam(model.parameters(), lr=2e-3)
    kw = dict(clip_sample=False, prediction_type="v_prediction")
    s = diffusion.DDPMScheduler(**kw)
    for _ in range(800):
        diffusion.train_step(model, opt, X[rng.integers(0, len(X), 128)], s, random_state=rng)
    n = 2000
    samples = diffusion.sample(model, diffusion.DDIMScheduler(**kw), n, num_inference_steps=25,
                               random_state=7)
    comp = np.argmin(((samples[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    # Monte-Carlo error: 0.01 for the weight (binomial, n = 2000), ~0.01 for the means
    # (0.3 / sqrt(n_k)). The tolerances are those of the model after 800 small steps
    # (seen errors: weight 0.01, means up to 0.2), well below the means' separation of 4.1.
    assert abs(np.mean(comp == 1) - 0.7) < 0.06
    for k in range(2):
        np.testing.assert_allclose(samples[comp == k].mean(0), means[k], atol=0.3)
        assert np.all(samples[comp == k].std(0) < 0.6)  # tight clusters, no stray samples


# ---------------------------------------------------------------- guidance
def test_guidance_w0_reproduces_unconditional_and_rescale():
    model = DiffusionMLP(2, hidden=16, n_blocks=1, num_classes=3, random_state=0)
    s = diffusion.DDPMScheduler(num_train_timesteps=50)
    labels = np.array([0, 1, 2, 0])
    uncond = diffusion.sample(model, s, 4, num_inference_steps=10, random_state=3)
    guided = diffusion.sample(model, s, 4, num_inference_steps=10, labels=labels,
                              guidance_scale=0.0, random_state=3)
    np.testing.assert_array_equal(uncond, guided)
    rng = np.random.default_rng(8)
    u, c = rng.standard_normal((2, 4, 3))
    g = diffusion.guided_output(u, c, 3.0, guidance_rescale=0.7)
    full = u + 3 * (c - u)
    expected = 0.7 * full * c.std(1, keepdims=True) / full.std(1, keepdims=True) + 0.3 * full
    np.testing.assert_allclose(g, expected, rtol=1e-12)  # diffusers' rescale_noise_cfg
    np.testing.assert_allclose(diffusion.rescale_guidance(full, c, 0.7), g, rtol=1e-12)
    plain = DiffusionMLP(2, hidden=8, n_blocks=1, random_state=0)
    with pytest.raises(ValueError, match="conditional"):
        diffusion.sample(plain, s, 4, num_inference_steps=5, guidance_scale=2.0)
    with pytest.raises(ValueError, match="class conditioning"):
        diffusion.sample(plain, s, 4, num_inference_steps=5, labels=labels)
    with pytest.raises(ValueError, match="class conditioning"):
        diffusion.train_step(plain, nn.Adam(plain.parameters()), np.zeros((4, 2), np.float32),
                             s, labels=labels)


# ---------------------------------------------------------------- score SDEs
class _ExactNoise:
    """The ideal denoiser for data N(mu, tau^2 I): z_hat = -s(t) score_t(x), with
    p_t = N(m mu, (m^2 tau^2 + s^2) I)."""

    dtype, data_dim, num_classes = np.float64, 2, None

    def __init__(self, sde, mu, tau):
        self.sde, self.mu, self.tau = sde, mu, tau

    def _forward(self, x, t, y=None):
        m, s = self.sde.marginal(t[:, None] / diffusion._sde.TIME_SCALE)
        return s * (x - m * self.mu) / (m**2 * self.tau**2 + s**2)


@pytest.mark.parametrize("sde", [diffusion.VPSDE(), diffusion.VESDE()])
@pytest.mark.parametrize("method", ["euler_maruyama", "ode"])
def test_sde_samplers_with_exact_score_recover_the_data_law(sde, method):
    mu, tau, n = np.array([1.0, -2.0]), 0.5, 4000
    x = diffusion.sde_sample(_ExactNoise(sde, mu, tau), sde, n, method=method, num_steps=400,
                             random_state=0)
    # standard errors: tau / sqrt(n) = 0.008 (mean), tau / sqrt(2 n) = 0.006 (std);
    # 5 of them plus the O(1/N) discretisation error of the Euler schemes and the prior
    # mismatch of VE (x_1 ~ N(0, 50^2) instead of N(mu, 50^2 + tau^2): |mu| tau / 50 = 0.02)
    np.testing.assert_allclose(x.mean(0), mu, atol=0.05)
    np.testing.assert_allclose(x.std(0), tau, atol=0.04)


def test_dsm_loss_matches_reference_and_sliced_score_matching():
    sde, rng = diffusion.VPSDE(), np.random.default_rng(9)
    mu, tau = np.array([1.0, -2.0]), 0.5
    exact = _ExactNoise(sde, mu, tau)
    x0 = mu + tau * rng.standard_normal((6, 2))
    t, z = rng.uniform(1e-3, 1, 6), rng.standard_normal((6, 2))
    m, s = sde.marginal(t)

    def score(x, tn):
        return -exact._forward(x, np.array([999.0 * tn]))[0][None] / sde.marginal(tn)[1]

    xt = m[:, None] * x0 + s[:, None] * z
    ours = np.mean(np.sum((exact._forward(xt, 999.0 * t) - z) ** 2, 1))
    assert abs(ours - reference.dsm_loss(score, x0, t, z, m, s)) < 1e-10
    # sliced score matching of the true score of N(mu, tau^2 I) has expectation
    # Hyvarinen's -d / (2 tau^2) = -4; standard error from the sample
    x = mu + tau * rng.standard_normal((3000, 2))
    v = rng.standard_normal((3000, 2))
    value = reference.sliced_score_matching_loss(lambda y: -(y - mu) / tau**2, x, v)
    terms = -np.sum(v * v, 1) / tau**2 + 0.5 * (np.sum(v * (x - mu), 1) / tau**2) ** 2
    assert abs(value + 4.0) < 5 * terms.std() / np.sqrt(3000)


def test_sde_train_step_learns():
    rng = np.random.default_rng(10)
    model = DiffusionMLP(2, hidden=32, n_blocks=1, dtype=np.float64, random_state=0)
    opt = nn.Adam(model.parameters(), lr=3e-3)
    x = np.array([1.0, -2.0]) + 0.5 * rng.standard_normal((2048, 2))
    sde = diffusion.VPSDE()
    losses = [diffusion.sde_train_step(model, opt, x[rng.integers(0, 2048, 256)], sde,
                                       random_state=rng) for _ in range(150)]
    assert np.mean(losses[-20:]) < 0.8 * np.mean(losses[:5])
    with pytest.raises(ValueError, match="method"):
        diffusion.sde_sample(model, sde, 4, method="heun")
    with pytest.raises(TypeError, match="sde"):
        diffusion.sde_sample(model, "vp", 4)
