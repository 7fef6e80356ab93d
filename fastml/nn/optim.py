"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with PyTorch's update rules.

An optimizer takes ``module.parameters()`` (or a list of parameter groups: dicts
with "params" and per-group options), reads each ``param.grad`` and updates
``param.data`` in place. Schedules set ``group["lr"]`` from a closed form of the epoch
(step) counter, one ``scheduler.step()`` per epoch.
"""

import bisect
import math
import numbers

import numpy as np

from fastml import _kernels
from fastml._validation import (
    check_bool,
    check_collection,
    check_instance,
    check_nonempty,
    check_scalar,
)
from fastml.nn._module import Parameter
from fastml.nn.functional._core import _ELEMENT_GRAIN

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LinearLR",
           "Optimizer", "SequentialLR", "StepLR"]


def _to_array(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _flat(arr, state, what):
    """A flat view of a parameter's ``data`` or ``grad`` for an in-place kernel update."""
    if arr.dtype != state.dtype or arr.size != state.size or not arr.flags.c_contiguous:
        raise TypeError(f"a parameter's {what} changed dtype, size or layout after the "
                        f"optimizer was created (now {arr.dtype} {arr.shape}); create the "
                        "optimizer after .to() and update data in place")
    return arr.reshape(-1)


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses implement ``step``."""

    def __init__(self, params, defaults):
        params = check_nonempty(list(params), "optimizer params", "an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        self.state = {}
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                check_instance(p, "optimizer params", Parameter, "Parameters")
            self._check_group(group)
            self.param_groups.append(group)

    def _check_group(self, group):
        check_scalar(group["lr"], "lr", numbers.Real, min_val=0)
        check_scalar(group["weight_decay"], "weight_decay", numbers.Real, min_val=0)

    def zero_grad(self):
        """Set every parameter's gradient to zero (in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self):
        raise NotImplementedError

    def _get_state(self, group_index, position, p):
        """This parameter's state as PyTorch names it (empty before the first step)."""
        raise NotImplementedError

    def _set_state(self, group_index, position, p, state):
        raise NotImplementedError

    def state_dict(self):
        """{"state": {index: per-parameter state}, "param_groups": [options + indices]},
        PyTorch's layout (parameters numbered across groups in order)."""
        state, groups, index = {}, [], 0
        for gi, group in enumerate(self.param_groups):
            indices = []
            for pos, p in enumerate(group["params"]):
                entry = self._get_state(gi, pos, p)
                if entry:
                    state[index] = entry
                indices.append(index)
                index += 1
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": indices})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore options and state from :meth:`state_dict` (ours or a PyTorch
        optimizer's of the same kind; tensors are converted to arrays)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"])
                for g, own in zip(groups, self.param_groups)):
            raise ValueError("state_dict has a different number of parameter groups or "
                             "parameters per group than this optimizer")
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            for key in self.defaults:
                if key in saved:
                    group[key] = tuple(saved[key]) if key == "betas" else saved[key]
            for pos, (index, p) in enumerate(zip(saved["params"], group["params"])):
                entry = state_dict["state"].get(index)
                if entry:
                    self._set_state(gi, pos, p, {k: _to_array(v) for k, v in entry.items()})

    def __repr__(self):
        return f"{type(self).__name__}({self.defaults})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, as PyTorch:

    g <- g + wd p;  b <- g (first step) else mu b + (1 - dampening) g;
    g <- g + mu b (Nesterov) or b;  p <- p - lr g.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_group(self, group):
        super()._check_group(group)
        check_scalar(group["momentum"], "momentum", numbers.Real, min_val=0)
        check_scalar(group["dampening"], "dampening", numbers.Real)
        group["nesterov"] = check_bool(group["nesterov"], "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening == 0")

    def step(self):
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                g = p.grad + wd * p.data if wd else p.grad
                if mu:
                    buf = self.state.get(p)
                    if buf is None:
                        buf = self.state[p] = np.array(g, dtype=p.dtype)
                    else:
                        buf *= mu
                        buf += (1 - group["dampening"]) * g
                    g = g + mu * buf if group["nesterov"] else buf
                p.data -= p.dtype.type(lr) * g

    def _get_state(self, group_index, position, p):
        buf = self.state.get(p)
        return {} if buf is None else {"momentum_buffer": buf.copy()}

    def _set_state(self, group_index, position, p, state):
        if "momentum_buffer" in state:
            self.state[p] = np.array(state["momentum_buffer"], dtype=p.dtype).reshape(p.shape)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's bias correction, one fused compiled pass:

    g <- g + wd p;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_group(self, group):
        super()._check_group(group)
        group["betas"] = tuple(check_collection(group["betas"], "betas", "a pair (beta1, beta2)"))
        check_scalar(len(group["betas"]), "len(betas)", numbers.Integral, min_val=2, max_val=2)
        for i, b in enumerate(group["betas"]):
            check_scalar(b, f"betas[{i}]", numbers.Real, min_val=0, max_val=1,
                         include_boundaries="left")
        check_scalar(group["eps"], "eps", numbers.Real, min_val=0)

    def step(self):
        _nn = _kernels.load("_nn")
        for index, group in enumerate(self.param_groups):
            state = self._group_state(index)
            state["step"] += 1
            b1, b2 = group["betas"]
            t = state["step"]
            _nn.adam_step([_flat(p.data, m, "data") for p, m in
                           zip(group["params"], state["exp_avg"])],
                          [_flat(p.grad, m, "grad") for p, m in
                           zip(group["params"], state["exp_avg"])],
                          state["exp_avg"], state["exp_avg_sq"], group["lr"], b1, b2,
                          group["eps"], group["weight_decay"], self._decoupled,
                          1 - b1 ** t, math.sqrt(1 - b2 ** t),
                          [_kernels.threads_for(m.size, _ELEMENT_GRAIN) for m in
                           state["exp_avg"]])


    def _group_state(self, group_index):
        group = self.param_groups[group_index]
        state = self.state.get(group_index)
        if state is None:
            state = self.state[group_index] = {
                "step": 0,
                "exp_avg": [np.zeros(p.size, p.dtype) for p in group["params"]],
                "exp_avg_sq": [np.zeros(p.size, p.dtype) for p in group["params"]]}
        return state

    def _get_state(self, group_index, position, p):
        state = self.state.get(group_index)
        if state is None:
            return {}
        return {"step": float(state["step"]),
                "exp_avg": state["exp_avg"][position].reshape(p.shape).copy(),
                "exp_avg_sq": state["exp_avg_sq"][position].reshape(p.shape).copy()}

    def _set_state(self, group_index, position, p, state):
        group_state = self._group_state(group_index)
        group_state["step"] = int(state["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            value = np.asarray(state[key], dtype=p.dtype)
            if value.size != p.size:
                raise ValueError(f"state {key} has {value.size} entries, the parameter "
                                 f"{p.size}")
            group_state[key][position][...] = value.reshape(-1)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p <- p (1 - lr wd) before
    the Adam step, instead of adding wd p to the gradient."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ---------------------------------------------------------------- learning-rate schedules
class LRScheduler:
    """Sets each group's lr to ``lr_at(initial_lr, epoch)``.

    ``step()`` advances the epoch counter (call it once per epoch, after
    ``optimizer.step()``); construction sets epoch 0, as PyTorch.
    """

    def __init__(self, optimizer):
        check_instance(optimizer, "optimizer", Optimizer, "an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        self._set(self.last_epoch)

    def _set(self, epoch):
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """lr = base * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = int(check_scalar(step_size, "step_size", numbers.Integral, min_val=1))
        self.gamma = check_scalar(gamma, "gamma", numbers.Real, min_val=0)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = int(check_scalar(T_max, "T_max", numbers.Integral, min_val=1))
        self.eta_min = check_scalar(eta_min, "eta_min", numbers.Real, min_val=0)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (
            1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Linear warm-up: lr = base (s + (e - s) min(epoch, total_iters) / total_iters)
    with s = ``start_factor``, e = ``end_factor``."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        self.start_factor = check_scalar(start_factor, "start_factor", numbers.Real,
                                         min_val=0, max_val=1, include_boundaries="right")
        self.end_factor = check_scalar(end_factor, "end_factor", numbers.Real, min_val=0,
                                       max_val=1)
        self.total_iters = int(check_scalar(total_iters, "total_iters", numbers.Integral,
                                            min_val=1))
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        frac = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class SequentialLR(LRScheduler):
    """Schedules one after another: ``schedulers[i]`` runs from ``milestones[i - 1]``,
    its epoch counted from there (e.g. LinearLR warm-up, then CosineAnnealingLR)."""

    def __init__(self, optimizer, schedulers, milestones):
        schedulers = check_nonempty(list(schedulers), "schedulers")
        checked = []  # strictly increasing: each scheduler runs for at least one epoch
        for i, m in enumerate(check_collection(milestones, "milestones", "a sequence of ints")):
            checked.append(int(check_scalar(m, f"milestones[{i}]", numbers.Integral,
                                            min_val=checked[-1] + 1 if checked else 1)))
        milestones = checked
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"milestones must have {len(schedulers) - 1} entries (one "
                             f"fewer than schedulers), got {len(milestones)}")
        for s in schedulers:
            if not isinstance(s, LRScheduler) or s.optimizer is not optimizer:
                raise ValueError("every scheduler must be an LRScheduler of this optimizer")
        self.schedulers = schedulers
        self.milestones = milestones
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        i = bisect.bisect_right(self.milestones, epoch)
        start = self.milestones[i - 1] if i > 0 else 0
        return self.schedulers[i].lr_at(base_lr, epoch - start)
