"""fastml.models.DiffusionCNN: finite differences (float64), the torch copy of the model
(oracle: forward and every gradient), bad input, and the samplers on image batches."""

import numpy as np
import pytest
from _testing import AtTime

from fastml import diffusion, nn
from fastml.models import DiffusionCNN


@pytest.mark.parametrize("num_classes", [None, 3])
def test_gradients_match_finite_differences(num_classes):
    model = DiffusionCNN(2, (4, 3), channels=3, n_blocks=2, time_dim=4,
                         num_classes=num_classes, dtype=np.float64, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 3))
    y = None if num_classes is None else np.array([0, 3])     # 3: the null class
    assert nn.gradcheck(AtTime(model, np.array([3, 700]), y), x, atol=1e-6)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_matches_torch_copy(dtype, tol):
    torch = pytest.importorskip("torch")
    from fastml.benchmarks.cases.diffusion import torch_diffusion_cnn

    model = DiffusionCNN(1, 8, channels=8, n_blocks=2, time_dim=16, num_classes=10,
                         dtype=dtype, random_state=1)
    theirs = torch_diffusion_cnn(model.state_dict(), 8, 2, 16, 10,
                                 torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 1, 8, 8)).astype(dtype)
    t, y = np.array([0, 10, 500, 999, 3]), np.array([0, 9, 10, 4, 10])
    g = rng.standard_normal(x.shape).astype(dtype)
    out = model.forward(x, t, y)
    model.zero_grad()
    gx = model.backward(g)
    xt = torch.from_numpy(x).requires_grad_()
    out_t = theirs(xt, torch.from_numpy(t), torch.from_numpy(y))
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=tol, atol=tol)
    theirs_grads = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    for name, grad in model.grads().items():
        scale = max(1.0, np.abs(theirs_grads[name]).max())
        np.testing.assert_allclose(grad, theirs_grads[name], rtol=tol, atol=tol * scale,
                                   err_msg=name)


def test_bad_input():
    model = DiffusionCNN(1, 8, channels=4, n_blocks=1, time_dim=4, num_classes=2,
                         random_state=0)
    x = np.zeros((2, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="x must have shape"):
        model.forward(np.zeros((2, 1, 8, 7), np.float32), 3)
    with pytest.raises(TypeError, match="dtype"):
        model.forward(x.astype(np.float64), 3)
    with pytest.raises(ValueError, match="t must"):
        model.forward(x, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="y must"):
        model.forward(x, 3, np.array([0, 3]))
    with pytest.raises(ValueError, match="no class conditioning"):
        DiffusionCNN(1, 8, channels=4, n_blocks=1, time_dim=4).forward(x, 3, np.array([0, 1]))
    for kwargs, match in [({"channels": 0}, "channels"), ({"time_dim": 3}, "time_dim"),
                          ({"image_size": (8, 8, 8)}, "image_size"),
                          ({"num_classes": 0}, "num_classes")]:
        with pytest.raises(ValueError, match=match):
            DiffusionCNN(**kwargs)
    s = diffusion.DDIMScheduler(num_train_timesteps=10)
    with pytest.raises(ValueError, match="x_T"):
        diffusion.sample(model, s, x_T=np.zeros((2, 64), np.float32))
    with pytest.raises(ValueError, match="x0"):
        diffusion.train_step(model, nn.SGD(model.parameters(), lr=0.1),
                             np.zeros((2, 64), np.float32), s)


def test_train_and_sample_image_batches():
    model = DiffusionCNN(1, 8, channels=4, n_blocks=1, time_dim=4, num_classes=2,
                         random_state=0)
    s = diffusion.DDPMScheduler(num_train_timesteps=50)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((6, 1, 8, 8)).astype(np.float32)
    opt = nn.Adam(model.parameters(), lr=1e-2)
    losses = [diffusion.train_step(model, opt, x0, s, labels=np.arange(6) % 2,
                                   random_state=i) for i in range(30)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    ddim = diffusion.DDIMScheduler(num_train_timesteps=50)
    x_T = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    labels = np.array([0, 1, 0, 1])
    guided = diffusion.sample(model, ddim, x_T=x_T, num_inference_steps=5, labels=labels,
                              guidance_scale=3.0)
    assert guided.shape == x_T.shape and guided.dtype == np.float32
    # w = 0 is the unconditional model exactly; eta = 0 is deterministic given x_T
    unconditional = diffusion.sample(model, ddim, x_T=x_T, num_inference_steps=5)
    np.testing.assert_array_equal(
        diffusion.sample(model, ddim, x_T=x_T, num_inference_steps=5, labels=labels,
                         guidance_scale=0.0), unconditional)
    assert diffusion.sample(model, ddim, 3, num_inference_steps=2,
                            random_state=0).shape == (3, 1, 8, 8)
