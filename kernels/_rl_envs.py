"""Numba kernels for :mod:`fastml.rl.envs`: batches of classic-control and toy-text
environments stepped in one call, with Gymnasium's dynamics operation for operation.

Classic control: env ``i`` keeps its physical state in ``state[i]`` (float64, as
Gymnasium's Python floats and NumPy float64 scalars) and writes its float32 observation
to ``obs[i]``. Where Gymnasium computes in float32 (a float32 action times a Python
float stays float32 under NumPy 2's promotion rules; MountainCarContinuous keeps its
state as float32 after the first step) the kernels round at the same points.

Randomness: Gymnasium's environments draw from their ``np_random`` generator only
``random()``/``uniform()`` doubles (``low + (high - low) u``). The Python layer draws
each env's doubles ahead from that env's own ``numpy.random.Generator`` into
``u[i, :]``; the kernels consume them in order from ``cursor[i]``, so the streams are
Gymnasium's exactly.

Squares: Gymnasium's ``x**2`` on NumPy scalars calls libm's ``pow``, which is not always
the correctly rounded ``x * x``; the kernels call ``pow`` with the exponent ``two`` passed
at run time (2.0), so LLVM cannot fold it into a multiplication.

Autoreset (``mode``): 0 = next step (an env that ended is reset by the next call, which
returns reward 0 and no flags), 1 = same step (reset at once; the last observation goes
to ``final_obs``), 2 = disabled (single environments).

Threads: ``classic_step_parallel`` / ``toy_step_parallel`` share the envs of a batch among
``n_threads`` threads (``prange``); the Python layer calls the serial ``classic_step`` /
``toy_step`` when the batch is below ``STEP_GRAIN`` envs per thread. Env ``i`` touches
only row ``i`` of every array, so the answer is the same for every thread count.
"""

import math

import numba
import numpy as np
from numba import njit, prange

CARTPOLE, ACROBOT, MOUNTAIN_CAR, MOUNTAIN_CAR_CONTINUOUS, PENDULUM = 0, 1, 2, 3, 4
NEXT_STEP, SAME_STEP, DISABLED = 0, 1, 2
# Doubles drawn by one reset / one step, per kind (the Python layer keeps that many ahead).
RESET_DRAWS = (4, 4, 1, 1, 2)
# Envs per thread below which a step runs serially (classic kinds in order, then toy text),
# estimated from ~10 ns (toy text) to ~0.5 us (Acrobot's RK4) per env step against ~5 us to
# wake a thread (the crossover could not be timed on the loaded 2-core dev machine).
STEP_GRAIN = (512, 16, 512, 512, 256)
TOY_STEP_GRAIN = 1024

_PI = math.pi
_F32_0015 = np.float32(0.0015)


@njit(cache=True, nogil=True, inline="always")
def _f32(x):
    return np.float64(np.float32(x))


@njit(cache=True, nogil=True)
def _draw(u, cursor, i):
    x = u[i, cursor[i]]
    cursor[i] += 1
    return x


@njit(cache=True, nogil=True)
def classic_reset(kind, state, i, u, cursor):
    """Gymnasium's reset of env ``i`` of ``kind`` from the next doubles of its stream."""
    if kind == CARTPOLE:
        for j in range(4):
            state[i, j] = -0.05 + (0.05 - -0.05) * _draw(u, cursor, i)
    elif kind == ACROBOT:
        for j in range(4):
            state[i, j] = _f32(-0.1 + (0.1 - -0.1) * _draw(u, cursor, i))
    elif kind == MOUNTAIN_CAR or kind == MOUNTAIN_CAR_CONTINUOUS:
        state[i, 0] = -0.6 + (-0.4 - -0.6) * _draw(u, cursor, i)
        state[i, 1] = 0.0
        state[i, 2] = 0.0  # MountainCarContinuous: state is float64 until the first step
    else:
        state[i, 0] = -_PI + (_PI - -_PI) * _draw(u, cursor, i)
        state[i, 1] = -1.0 + (1.0 - -1.0) * _draw(u, cursor, i)


@njit(cache=True, nogil=True)
def classic_obs(kind, state, i, obs):
    """Float32 observation of env ``i``."""
    if kind == CARTPOLE:
        for j in range(4):
            obs[i, j] = state[i, j]
    elif kind == ACROBOT:
        obs[i, 0] = math.cos(state[i, 0])
        obs[i, 1] = math.sin(state[i, 0])
        obs[i, 2] = math.cos(state[i, 1])
        obs[i, 3] = math.sin(state[i, 1])
        obs[i, 4] = state[i, 2]
        obs[i, 5] = state[i, 3]
    elif kind == PENDULUM:
        obs[i, 0] = math.cos(state[i, 0])
        obs[i, 1] = math.sin(state[i, 0])
        obs[i, 2] = state[i, 1]
    else:
        obs[i, 0] = state[i, 0]
        obs[i, 1] = state[i, 1]


@njit(cache=True, nogil=True)
def _cartpole_step(state, i, action):
    x, x_dot, theta, theta_dot = state[i, 0], state[i, 1], state[i, 2], state[i, 3]
    gravity, masspole, total_mass, length = 9.8, 0.1, 0.1 + 1.0, 0.5
    polemass_length, tau = 0.1 * 0.5, 0.02
    force = 10.0 if action == 1 else -10.0
    costheta = math.cos(theta)
    sintheta = math.sin(theta)
    temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (
        length * (4.0 / 3.0 - masspole * (costheta * costheta) / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    x = x + tau * x_dot
    x_dot = x_dot + tau * xacc
    theta = theta + tau * theta_dot
    theta_dot = theta_dot + tau * thetaacc
    state[i, 0], state[i, 1], state[i, 2], state[i, 3] = x, x_dot, theta, theta_dot
    threshold = 12 * 2 * _PI / 360
    terminated = x < -2.4 or x > 2.4 or theta < -threshold or theta > threshold
    return 1.0, terminated


@njit(cache=True, nogil=True)
def _acrobot_dsdt(y, out, two):
    m1, m2, l1, lc1, lc2, I1, I2, g = 1.0, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 9.8
    theta1, theta2, dtheta1, dtheta2, a = y[0], y[1], y[2], y[3], y[4]
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * math.cos(theta2)) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * math.cos(theta2)) + I2
    phi2 = m2 * lc2 * g * math.cos(theta1 + theta2 - _PI / 2.0)
    phi1 = (-m2 * l1 * lc2 * dtheta2**two * math.sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * math.sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * math.cos(theta1 - _PI / 2) + phi2)
    ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**two * math.sin(theta2) - phi2) / (
        m2 * lc2**2 + I2 - d2**two / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    out[0], out[1], out[2], out[3], out[4] = dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0


@njit(cache=True, nogil=True)
def _wrap(x, m, M):
    diff = M - m
    while x > M:
        x = x - diff
    while x < m:
        x = x + diff
    return x


@njit(cache=True, nogil=True)
def _acrobot_step(state, i, action, two):
    y0 = np.empty(5)
    y = np.empty(5)
    k1, k2, k3, k4 = np.empty(5), np.empty(5), np.empty(5), np.empty(5)
    for j in range(4):
        y0[j] = state[i, j]
    y0[4] = action - 1.0
    dt = 0.2 - 0.0
    dt2 = dt / 2.0
    _acrobot_dsdt(y0, k1, two)
    for j in range(5):
        y[j] = y0[j] + dt2 * k1[j]
    _acrobot_dsdt(y, k2, two)
    for j in range(5):
        y[j] = y0[j] + dt2 * k2[j]
    _acrobot_dsdt(y, k3, two)
    for j in range(5):
        y[j] = y0[j] + dt * k3[j]
    _acrobot_dsdt(y, k4, two)
    for j in range(4):
        state[i, j] = y0[j] + dt / 6.0 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j])
    state[i, 0] = _wrap(state[i, 0], -_PI, _PI)
    state[i, 1] = _wrap(state[i, 1], -_PI, _PI)
    state[i, 2] = min(max(state[i, 2], -4 * _PI), 4 * _PI)
    state[i, 3] = min(max(state[i, 3], -9 * _PI), 9 * _PI)
    terminated = -math.cos(state[i, 0]) - math.cos(state[i, 1] + state[i, 0]) > 1.0
    return (0.0 if terminated else -1.0), terminated


@njit(cache=True, nogil=True)
def _mountain_car_step(state, i, action):
    position, velocity = state[i, 0], state[i, 1]
    velocity += (action - 1) * 0.001 + math.cos(3 * position) * (-0.0025)
    velocity = min(max(velocity, -0.07), 0.07)
    position += velocity
    position = min(max(position, -1.2), 0.6)
    if position == -1.2 and velocity < 0:
        velocity = 0.0
    state[i, 0], state[i, 1] = position, velocity
    return -1.0, position >= 0.5 and velocity >= 0


@njit(cache=True, nogil=True)
def _continuous_mountain_car_step(state, i, action):
    """Gymnasium's MountainCarContinuous with its float32/float64 mix (see module doc)."""
    a = np.float32(action)
    as_f32 = state[i, 2] != 0.0   # state is float32 after the first step
    position, velocity = state[i, 0], state[i, 1]
    clipped = a < -1.0 or a > 1.0
    push = (1.0 if a > 1.0 else -1.0) * 0.0015   # a clipped action is a Python float
    push_f32 = a * _F32_0015                       # else float32 arithmetic
    gravity = 0.0025 * math.cos(_f32(3 * position) if as_f32 else 3 * position)
    if as_f32:
        if clipped:
            velocity = _f32(np.float32(velocity) + np.float32(push - gravity))
        else:
            velocity = _f32(np.float32(velocity) + (push_f32 - np.float32(gravity)))
        if np.float32(velocity) > np.float32(0.07):
            velocity = 0.07
        if np.float32(velocity) < np.float32(-0.07):
            velocity = -0.07
        position = _f32(np.float32(position) + np.float32(velocity))
        if np.float32(position) > np.float32(0.6):
            position = 0.6
        if np.float32(position) < np.float32(-1.2):
            position = -1.2
    else:
        if clipped:
            velocity = velocity + (push - gravity)
        else:
            velocity = velocity + np.float64(push_f32 - np.float32(gravity))
        velocity = min(max(velocity, -0.07), 0.07)
        position = position + velocity
        position = min(max(position, -1.2), 0.6)
    if position == -1.2 and velocity < 0:
        velocity = 0.0
    if as_f32 and position != 0.6:
        terminated = np.float32(position) >= np.float32(0.45) and velocity >= 0
    else:
        terminated = position >= 0.45 and velocity >= 0
    state[i, 0], state[i, 1], state[i, 2] = _f32(position), _f32(velocity), 1.0
    reward = 100.0 if terminated else 0.0
    reward -= math.pow(np.float64(a), 2) * 0.1
    return reward, terminated


@njit(cache=True, nogil=True)
def _pendulum_step(state, i, action, two):
    th, thdot = state[i, 0], state[i, 1]
    u = min(max(np.float32(action), np.float32(-2.0)), np.float32(2.0))
    normalized = ((th + _PI) % (2 * _PI)) - _PI
    costs = normalized**two + 0.1 * thdot**two + \
        np.float64(np.float32(0.001) * u**np.float32(two))
    newthdot = thdot + (3 * 10.0 / (2 * 1.0) * math.sin(th) + np.float64(np.float32(3.0) * u)) \
        * 0.05
    newthdot = min(max(newthdot, -8.0), 8.0)
    state[i, 0] = th + newthdot * 0.05
    state[i, 1] = newthdot
    return -costs, False


@njit(cache=True, nogil=True)
def classic_step_one(kind, state, i, action, two):
    """Advance env ``i`` by one step; returns (reward, terminated)."""
    if kind == CARTPOLE:
        return _cartpole_step(state, i, action)
    if kind == ACROBOT:
        return _acrobot_step(state, i, action, two)
    if kind == MOUNTAIN_CAR:
        return _mountain_car_step(state, i, action)
    if kind == MOUNTAIN_CAR_CONTINUOUS:
        return _continuous_mountain_car_step(state, i, action)
    return _pendulum_step(state, i, action, two)


@njit(cache=True, nogil=True)
def _classic_step_env(kind, state, i, actions, obs, reward, terminated, truncated, elapsed,
                      max_steps, mode, needs_reset, u, cursor, final_obs, has_final, two):
    """Step env ``i`` of the batch (autoreset by ``mode``)."""
    has_final[i] = False
    if mode == NEXT_STEP and needs_reset[i]:
        classic_reset(kind, state, i, u, cursor)
        elapsed[i] = 0
        reward[i] = 0.0
        terminated[i] = False
        truncated[i] = False
        classic_obs(kind, state, i, obs)
    else:
        r, term = classic_step_one(kind, state, i, actions[i], two)
        elapsed[i] += 1
        reward[i] = r
        terminated[i] = term
        truncated[i] = max_steps > 0 and elapsed[i] >= max_steps
        classic_obs(kind, state, i, obs)
        if mode == SAME_STEP and (term or truncated[i]):
            has_final[i] = True
            for j in range(obs.shape[1]):
                final_obs[i, j] = obs[i, j]
            classic_reset(kind, state, i, u, cursor)
            elapsed[i] = 0
            classic_obs(kind, state, i, obs)
    needs_reset[i] = terminated[i] or truncated[i]


@njit(cache=True, nogil=True)
def classic_step(kind, state, actions, obs, reward, terminated, truncated, elapsed,
                 max_steps, mode, needs_reset, u, cursor, final_obs, has_final, two):
    """Step every env of the batch (actions (n,) float64: discrete actions as floats)."""
    for i in range(state.shape[0]):
        _classic_step_env(kind, state, i, actions, obs, reward, terminated, truncated,
                          elapsed, max_steps, mode, needs_reset, u, cursor, final_obs,
                          has_final, two)


def classic_step_parallel(n_threads, *arrays):
    """:func:`classic_step` with the envs shared among ``n_threads`` threads (each env
    reads only its own stream, so the answer does not depend on the thread count)."""
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    _classic_step_prange(*arrays)


@njit(cache=True, nogil=True, parallel=True)
def _classic_step_prange(kind, state, actions, obs, reward, terminated, truncated, elapsed,
                         max_steps, mode, needs_reset, u, cursor, final_obs, has_final, two):
    for i in prange(state.shape[0]):
        _classic_step_env(kind, state, i, actions, obs, reward, terminated, truncated,
                          elapsed, max_steps, mode, needs_reset, u, cursor, final_obs,
                          has_final, two)


@njit(cache=True, nogil=True)
def classic_reset_all(kind, state, mask, obs, elapsed, needs_reset, u, cursor):
    """Reset the envs with ``mask[i]`` and write their observations."""
    for i in range(state.shape[0]):
        if mask[i]:
            classic_reset(kind, state, i, u, cursor)
            elapsed[i] = 0
            needs_reset[i] = False
            classic_obs(kind, state, i, obs)


@njit(cache=True, nogil=True)
def categorical(cum, u):
    """Gymnasium's categorical_sample: first index with cumulative probability > u, else 0."""
    for k in range(cum.shape[0]):
        if cum[k] > u:
            return k
    return 0


@njit(cache=True, nogil=True)
def _toy_step_env(next_state, prob_table, cum_prob, reward_table, done_table, init_cum, state,
                  i, actions, reward, terminated, truncated, elapsed, max_steps, mode,
                  needs_reset, u, cursor, final_obs, has_final, prob_out):
    """Step toy-text env ``i``: outcome k of (s, a) drawn with one double (cumsum > u;
    padding outcomes have cumulative probability -1)."""
    has_final[i] = False
    if mode == NEXT_STEP and needs_reset[i]:
        state[i] = categorical(init_cum, _draw(u, cursor, i))
        elapsed[i] = 0
        reward[i] = 0.0
        terminated[i] = False
        truncated[i] = False
        prob_out[i] = 1.0
    else:
        s, a = state[i], actions[i]
        k = categorical(cum_prob[s, a], _draw(u, cursor, i))
        prob_out[i] = prob_table[s, a, k]
        state[i] = next_state[s, a, k]
        reward[i] = reward_table[s, a, k]
        terminated[i] = done_table[s, a, k]
        elapsed[i] += 1
        truncated[i] = max_steps > 0 and elapsed[i] >= max_steps
        if mode == SAME_STEP and (terminated[i] or truncated[i]):
            has_final[i] = True
            final_obs[i] = state[i]
            state[i] = categorical(init_cum, _draw(u, cursor, i))
            elapsed[i] = 0
    needs_reset[i] = terminated[i] or truncated[i]


@njit(cache=True, nogil=True)
def toy_step(next_state, prob_table, cum_prob, reward_table, done_table, init_cum, state,
             actions, reward, terminated, truncated, elapsed, max_steps, mode, needs_reset, u,
             cursor, final_obs, has_final, prob_out):
    """Step every toy-text env. ``state`` doubles as the observation array (int64);
    ``prob_out`` receives the probability of the drawn outcome (Gymnasium's
    ``info["prob"]``)."""
    for i in range(state.shape[0]):
        _toy_step_env(next_state, prob_table, cum_prob, reward_table, done_table, init_cum,
                      state, i, actions, reward, terminated, truncated, elapsed, max_steps,
                      mode, needs_reset, u, cursor, final_obs, has_final, prob_out)


def toy_step_parallel(n_threads, *arrays):
    """:func:`toy_step` with the envs shared among ``n_threads`` threads."""
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    _toy_step_prange(*arrays)


@njit(cache=True, nogil=True, parallel=True)
def _toy_step_prange(next_state, prob_table, cum_prob, reward_table, done_table, init_cum,
                     state, actions, reward, terminated, truncated, elapsed, max_steps, mode,
                     needs_reset, u, cursor, final_obs, has_final, prob_out):
    for i in prange(state.shape[0]):
        _toy_step_env(next_state, prob_table, cum_prob, reward_table, done_table, init_cum,
                      state, i, actions, reward, terminated, truncated, elapsed, max_steps,
                      mode, needs_reset, u, cursor, final_obs, has_final, prob_out)


@njit(cache=True, nogil=True)
def toy_reset_all(init_cum, state, mask, elapsed, needs_reset, u, cursor):
    for i in range(state.shape[0]):
        if mask[i]:
            state[i] = categorical(init_cum, _draw(u, cursor, i))
            elapsed[i] = 0
            needs_reset[i] = False
