"""Calls from 4 Python threads at once give the serial answers (issue 13, part 4).

Each workload runs on 4 different inputs serially, then on the same 4 inputs from a
ThreadPoolExecutor(4) twice over, and must give bit-identical answers: kernels share no
mutable state, caches (kernel modules, workspaces, BLAS controllers) are safe to fill
concurrently, and each call's RNG stream comes from its own seed. The thread settings
themselves are checked too: ``fastml.threads`` is local to a thread, and concurrent BLAS
pinners restore the BLAS thread count in any order.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastml
from fastml import _threads

N_WORKERS = 4


def _spd(seed, n=60):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _cholesky(seed):
    from fastml.linalg import cholesky
    return cholesky(_spd(seed))


def _conv2d(seed):
    from fastml.nn.functional import conv2d
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 20, 20)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    return conv2d(x, w, padding=1)


def _attention(seed):
    from fastml.nn.functional import scaled_dot_product_attention
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((2, 2, 40, 8)) for _ in range(3))
    return scaled_dot_product_attention(q, k, v, causal=True)


def _kmeans(seed):
    from fastml.cluster import KMeans
    X = np.random.default_rng(seed).standard_normal((300, 3))
    km = KMeans(3, n_init=2, random_state=seed).fit(X)
    return km.cluster_centers_, km.labels_


def _gp(seed):
    from fastml.gp import GaussianProcessRegressor
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 5, (25, 1))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(25)
    gp = GaussianProcessRegressor(alpha=1e-2).fit(X, y)
    return gp.kernel_.theta, gp.predict(X)


def _mcmc(seed):
    from fastml import mcmc

    def logp(x):
        return -0.5 * float(x @ x)

    return mcmc.sample(logp, np.zeros(2), grad=lambda x: -x, method="hmc", draws=40, tune=40,
                       chains=2, seed=seed).samples


def _train_step(seed):
    from fastml import nn
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    model = nn.Linear(5, 2, random_state=seed)
    loss, opt = nn.MSELoss(), nn.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        loss.forward(model(x), y)
        model.backward(loss.backward())
        opt.step()
    return model.weight.data, model.bias.data


WORKLOADS = {"cholesky": _cholesky, "conv2d": _conv2d, "attention": _attention,
             "KMeans.fit": _kmeans, "GaussianProcessRegressor.fit": _gp, "mcmc.sample": _mcmc,
             "nn training step": _train_step}


def _leaves(result):
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in _leaves(r)]
    return [np.asarray(result)]


def _assert_same(got, want, label):
    for a, b in zip(_leaves(got), _leaves(want), strict=True):
        assert a.shape == b.shape and np.array_equal(a, b), label


@pytest.mark.parametrize("name", WORKLOADS)
def test_concurrent_calls_match_serial_calls(name):
    work = WORKLOADS[name]
    seeds = list(range(N_WORKERS))
    serial = [work(s) for s in seeds]
    with ThreadPoolExecutor(N_WORKERS) as pool:
        for round_ in range(2):
            for seed, got in zip(seeds, pool.map(work, seeds)):
                _assert_same(got, serial[seed], f"{name}: seed {seed}, round {round_}")


def test_threads_block_is_local_to_its_thread():
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def in_block():
        with fastml.threads(1):
            seen["block"] = fastml.get_num_threads()
            inside.set()
            outside.wait(10)

    def elsewhere():
        inside.wait(10)
        seen["other"] = fastml.get_num_threads()
        with fastml.threads(3):
            seen["other block"] = fastml.get_num_threads()
        outside.set()

    default = fastml.get_num_threads()
    threads = [threading.Thread(target=in_block), threading.Thread(target=elsewhere)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"block": 1, "other": default, "other block": 3}
    assert fastml.get_num_threads() == default


def _blas_counts():
    from threadpoolctl import threadpool_info
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")


def test_concurrent_blas_pinning_restores_the_count():
    pytest.importorskip("threadpoolctl")
    import scipy.linalg.cython_blas  # noqa: F401  (the library the kernels pin)
    before = _blas_counts()
    barrier = threading.Barrier(N_WORKERS)
    pinned_inside = []

    def pin(i):
        barrier.wait()
        for j in range(50):
            if (i + j) % 3 == 0:
                with fastml.threads(1 + i % 2):
                    pinned_inside.append(_threads._scipy_blas_controller().num_threads)
            else:
                with _threads.blas_single_threaded():
                    pinned_inside.append(_threads._scipy_blas_controller().get_num_threads())

    with ThreadPoolExecutor(N_WORKERS) as pool:
        list(pool.map(pin, range(N_WORKERS)))
    assert _blas_counts() == before
    assert all(n in (1, 2) for n in pinned_inside)


def test_set_num_threads_is_seen_by_every_thread_and_reset():
    default = fastml.get_num_threads()
    try:
        fastml.set_num_threads(1)
        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(lambda _: fastml.get_num_threads(), range(2))) == [1, 1]
        with fastml.threads(2):
            assert fastml.get_num_threads() == 2
        assert fastml.get_num_threads() == 1
    finally:
        fastml.set_num_threads(None)
    assert fastml.get_num_threads() == default
    with pytest.raises(ValueError, match="n must be"):
        fastml.set_num_threads(0)
    with pytest.raises(ValueError, match="n must be"):
        with fastml.threads(-1):
            pass
