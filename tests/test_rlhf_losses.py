"""fastml.rlhf losses vs the paper formulas (fastml.reference.rlhf), TRL on identical
tensors, finite differences for the gradients, and bad input."""

import types
from collections import defaultdict

import numpy as np
import pytest

from fastml import rlhf
from fastml.reference import rlhf as ref

LOSS_TYPES = ["sigmoid", "hinge", "ipo", "robust", "reference_free"]


def _logps(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [-rng.uniform(1, 10, n) for _ in range(4)]


def _dpo_case(loss_type):
    smoothing = {"sigmoid": 0.1, "robust": 0.2, "reference_free": 0.05}.get(loss_type, 0.0)
    return dict(beta=0.3, loss_type=loss_type, label_smoothing=smoothing)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_dpo_loss_matches_reference_and_finite_differences(loss_type):
    pc, pr, rc, rr = _logps()
    kw = _dpo_case(loss_type)
    out = rlhf.dpo_loss(pc, pr, rc, rr, **kw)
    losses, chosen, rejected = ref.dpo_loss(pc, pr, rc, rr, **kw)
    np.testing.assert_allclose(out.losses, losses, rtol=1e-12, atol=1e-12)
    if loss_type == "reference_free":
        chosen, rejected = kw["beta"] * pc, kw["beta"] * pr
    np.testing.assert_allclose(out.chosen_rewards, chosen, rtol=1e-12)
    np.testing.assert_allclose(out.rejected_rewards, rejected, rtol=1e-12)
    h = 1e-6
    for grad, which in ((out.grad_policy_chosen, 0), (out.grad_policy_rejected, 1)):
        plus = [pc, pr]
        minus = [pc, pr]
        plus[which] = plus[which] + h
        minus[which] = minus[which] - h
        fd = (ref.dpo_loss(*plus, rc, rr, **kw)[0]
              - ref.dpo_loss(*minus, rc, rr, **kw)[0]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_dpo_loss_float32_and_reference_free_without_refs():
    pc, pr, rc, rr = [a.astype(np.float32) for a in _logps()]
    out = rlhf.dpo_loss(pc, pr, rc, rr, beta=0.1)
    assert out.losses.dtype == np.float32 and out.grad_policy_chosen.dtype == np.float32
    free = rlhf.dpo_loss(pc, pr, None, None, beta=0.1, loss_type="reference_free")
    np.testing.assert_allclose(free.losses, ref.dpo_loss(pc, pr, rc, rr, 0.1, "reference_free")[0],
                               rtol=1e-5)


def _trl_dpo(pc, pr, rc, rr, beta, loss_type, label_smoothing):
    """TRL's DPOTrainer._compute_loss on given summed log-probs (one 'token' per
    completion) through a stand-in model; returns (mean loss, grad wrt policy logps)."""
    torch = pytest.importorskip("torch")
    trl = pytest.importorskip("trl")
    n = len(pc)
    logps = torch.tensor(np.concatenate([pc, pr])[:, None], dtype=torch.float64,
                         requires_grad=True)

    class Model:
        training = True

        def __call__(self, **kwargs):
            z = torch.zeros(2 * n, 1, dtype=torch.float64)
            return types.SimpleNamespace(log_probs=logps, entropy=z, mean_logits=z,
                                         is_top1=torch.zeros(2 * n, 1, dtype=torch.bool))

    acc = types.SimpleNamespace(device="cpu", gather_for_metrics=lambda x: x,
                                gather=lambda x: x)
    trainer = trl.DPOTrainer.__new__(trl.DPOTrainer)
    trainer.__dict__.update(
        model=Model(), accelerator=acc, aux_loss_enabled=False, ld_alpha=None,
        precompute_ref_logps=True, f_divergence_type="reverse_kl", beta=beta,
        loss_types=[loss_type], loss_weights=[1.0], label_smoothing=label_smoothing,
        use_weighting=False, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0, _tp_size=1)
    inputs = {"input_ids": torch.zeros(2 * n, 2, dtype=torch.long),
              "attention_mask": torch.ones(2 * n, 2, dtype=torch.long),
              "completion_mask": torch.tensor([[0, 1]] * (2 * n)),
              "ref_chosen_logps": torch.tensor(rc), "ref_rejected_logps": torch.tensor(rr)}
    loss = trainer._compute_loss(trainer.model, inputs, False)
    loss.backward()
    g = logps.grad[:, 0].numpy()
    return float(loss.detach()), g[:n], g[n:]


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge", "ipo", "robust"])
def test_dpo_loss_matches_trl(loss_type):
    pc, pr, rc, rr = _logps(seed=1)
    kw = _dpo_case(loss_type)
    if loss_type == "sigmoid":
        kw["label_smoothing"] = 0.0  # TRL's sigmoid has no label smoothing (cDPO)
    loss, gc, gr = _trl_dpo(pc, pr, rc, rr, **kw)
    out = rlhf.dpo_loss(pc, pr, rc, rr, **kw)
    n = len(pc)
    assert abs(out.losses.mean() - loss) < 1e-6
    np.testing.assert_allclose(out.grad_policy_chosen / n, gc, atol=1e-6)
    np.testing.assert_allclose(out.grad_policy_rejected / n, gr, atol=1e-6)


def test_bradley_terry_matches_reference_trl_and_finite_differences():
    rng = np.random.default_rng(2)
    rc, rr, m = rng.normal(size=12), rng.normal(size=12), rng.uniform(0, 1, 12)
    for margin, center in ((None, None), (m, None), (m, 0.01)):
        out = rlhf.bradley_terry_loss(rc, rr, margin, center)
        assert abs(out.loss - ref.bradley_terry_loss(rc, rr, margin, center)) < 1e-12
        h = 1e-6
        for grad, which in ((out.grad_chosen, 0), (out.grad_rejected, 1)):
            fd = np.empty(12)
            for i in range(12):
                e = np.zeros(12)
                e[i] = h
                args = [rc, rr]
                plus, minus = list(args), list(args)
                plus[which] = args[which] + e
                minus[which] = args[which] - e
                fd[i] = (ref.bradley_terry_loss(*plus, margin, center)
                         - ref.bradley_terry_loss(*minus, margin, center)) / (2 * h)
            np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    torch = pytest.importorskip("torch")
    trl = pytest.importorskip("trl")
    rewards = torch.tensor(np.concatenate([rc, rr])[:, None], requires_grad=True)
    trainer = trl.RewardTrainer.__new__(trl.RewardTrainer)
    trainer.__dict__.update(
        model=types.SimpleNamespace(training=False), _total_train_tokens=0, _tp_size=1,
        args=types.SimpleNamespace(center_rewards_coefficient=0.01),
        accelerator=types.SimpleNamespace(gather_for_metrics=lambda x: x, gather=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    loss = trainer.compute_loss(lambda **kw: types.SimpleNamespace(logits=rewards),
                                {"margin": torch.tensor(m)})
    loss.backward()
    out = rlhf.bradley_terry_loss(rc, rr, m, 0.01)
    assert abs(out.loss - float(loss.detach())) < 1e-6
    np.testing.assert_allclose(np.concatenate([out.grad_chosen, out.grad_rejected]),
                               rewards.grad[:, 0].numpy(), atol=1e-6)


def test_gae_equals_recursion_with_masks():
    rng = np.random.default_rng(3)
    r, v = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    mask = np.arange(9) < rng.integers(1, 10, 5)[:, None]
    for gamma, lam in ((1.0, 0.95), (0.9, 0.5), (0.99, 1.0)):
        adv, ret = rlhf.gae(r, v, gamma, lam, mask)
        adv_ref, ret_ref = ref.gae(r, v, gamma, lam, mask)
        np.testing.assert_allclose(adv, adv_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ret, ret_ref, rtol=1e-12, atol=1e-12)
    # lam = 1, gamma = 1: A_t = sum of rewards from t on - V_t (Monte-Carlo return).
    adv, _ = rlhf.gae(r, v, 1.0, 1.0)
    np.testing.assert_allclose(adv, np.cumsum(r[:, ::-1], axis=1)[:, ::-1] - v, atol=1e-12)


def test_ppo_losses_match_reference_and_finite_differences():
    rng = np.random.default_rng(4)
    old = -rng.uniform(0.5, 3, (4, 6))
    logps = old + rng.normal(0, 0.3, (4, 6))
    adv = rng.normal(size=(4, 6))
    mask = np.arange(6) < np.array([6, 4, 5, 2])[:, None]
    out = rlhf.ppo_policy_loss(logps, old, adv, mask, 0.2)
    assert abs(out.loss - ref.ppo_policy_loss(logps, old, adv, mask, 0.2)) < 1e-12
    assert 0 < out.clipfrac < 1
    v_old, ret = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    v = v_old + rng.normal(0, 0.3, (4, 6))
    vout = rlhf.ppo_value_loss(v, v_old, ret, mask, 0.2)
    assert abs(vout.loss - ref.ppo_value_loss(v, v_old, ret, mask, 0.2)) < 1e-12
    h = 1e-7
    for x, grad, f in ((logps, out.grad, lambda y: ref.ppo_policy_loss(y, old, adv, mask, 0.2)),
                       (v, vout.grad, lambda y: ref.ppo_value_loss(y, v_old, ret, mask, 0.2))):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[idx] = h
            fd[idx] = (f(x + e) - f(x - e)) / (2 * h)
        np.testing.assert_allclose(grad, fd, atol=1e-6)


def test_whiten_and_kl_controller():
    rng = np.random.default_rng(5)
    x = rng.normal(3, 2, (4, 5))
    mask = np.arange(5) < np.array([5, 3, 4, 2])[:, None]
    w = rlhf.whiten(x, mask)
    assert abs(w[mask].mean()) < 1e-12 and abs(w[mask].std(ddof=1) - 1) < 1e-6
    assert np.all(w[~mask] == 0)
    w2 = rlhf.whiten(x, mask, shift_mean=False)
    np.testing.assert_allclose(w2[mask] - w[mask], x[mask].mean())
    ctl = rlhf.AdaptiveKLController(0.2, target=4.0, horizon=100)
    assert ctl.update(8.0, 10) == pytest.approx(0.2 * 1.02)  # error clipped to +0.2
    assert ctl.update(4.0, 10) == pytest.approx(0.2 * 1.02)
    assert rlhf.AdaptiveKLController(0.2, target=None).update(100.0, 10) == 0.2


def test_bad_input():
    pc, pr, rc, rr = _logps()
    with pytest.raises(ValueError, match="inconsistent"):
        rlhf.dpo_loss(pc, pr[:-1], rc, rr)
    with pytest.raises(ValueError, match="beta"):
        rlhf.dpo_loss(pc, pr, rc, rr, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        rlhf.dpo_loss(pc, pr, rc, rr, beta=-1)
    with pytest.raises(ValueError, match="loss_type"):
        rlhf.dpo_loss(pc, pr, rc, rr, loss_type="kto")
    with pytest.raises(ValueError, match="label_smoothing"):
        rlhf.dpo_loss(pc, pr, rc, rr, loss_type="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        rlhf.dpo_loss(pc, pr, rc, rr, loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(TypeError, match="ref_chosen_logps"):
        rlhf.dpo_loss(pc, pr, None, rr)
    with pytest.raises(ValueError, match="NaN"):
        rlhf.dpo_loss(np.full(16, np.nan), pr, rc, rr)
    with pytest.raises(ValueError, match="inconsistent"):
        rlhf.bradley_terry_loss(pc, pr[:3])
    with pytest.raises(ValueError, match="values"):
        rlhf.gae(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="gamma"):
        rlhf.gae(np.zeros((2, 3)), np.zeros((2, 3)), gamma=1.5)
    with pytest.raises(ValueError, match="mask"):
        rlhf.ppo_policy_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
                             np.zeros((2, 3), bool))
