"""Runtime CPU dispatch (``fastml._kernels.cpu_dispatch`` / ``load``): every level this CPU
supports loads its own build and computes what the baseline computes; ``FASTML_CPU``
forces a level and rejects what the CPU cannot run; Numba caches are keyed per CPU."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastml import _kernels

_PROBE = """
import json, numpy as np
from fastml import _kernels
from fastml.nn import functional as F
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 9, 9))
w = rng.standard_normal((4, 3, 3, 3))
q = rng.standard_normal((2, 2, 17, 8)).astype(np.float32)
out = {
    "dispatch": _kernels.cpu_dispatch(),
    "module": _kernels.load("_conv").__name__,
    "conv": F.conv2d(x, w, padding=1).tolist(),
    "attention": F.scaled_dot_product_attention(q, q, q, causal=True).tolist(),
    "layer_norm": F.layer_norm(x.reshape(18, 27), (27,)).tolist(),
}
print(json.dumps(out))
"""


def _probe(level, cwd):
    """Run the probe in a fresh process (the level is chosen once per process), outside
    the source tree so that the installed package is imported."""
    env = dict(os.environ, FASTML_CPU=level)
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _supported_levels():
    supported = _kernels.cpu_dispatch()["supported"]
    return _kernels.CPU_LEVELS[:_kernels.CPU_LEVELS.index(supported) + 1]


def test_dispatch_reports_a_level_the_cpu_runs():
    info = _kernels.cpu_dispatch()
    assert info["level"] in _kernels.CPU_LEVELS
    assert _kernels.CPU_LEVELS.index(info["level"]) <= _kernels.CPU_LEVELS.index(
        info["supported"])
    assert info["reason"] and info["build"]


@pytest.mark.parametrize("level", _kernels.CPU_LEVELS)
def test_every_supported_level_agrees_with_the_baseline(level, tmp_path):
    if level not in _supported_levels():
        pytest.skip(f"this CPU does not run {level}")
    base, got = _probe("baseline", tmp_path), _probe(level, tmp_path)
    assert got["dispatch"]["level"] == level and got["dispatch"]["reason"] == f"FASTML_CPU={level}"
    portable = got["dispatch"]["build"].startswith("portable")
    expect = (f"fastml.kernels._{level}._conv" if portable and level != "baseline"
              else "fastml.kernels._conv")
    assert got["module"] == expect
    # wider vectors and FMA change the order and rounding of sums, not the result
    for key, eps in (("conv", np.finfo(np.float64).eps), ("layer_norm", np.finfo(np.float64).eps),
                     ("attention", np.finfo(np.float32).eps)):
        a, b = np.asarray(base[key]), np.asarray(got[key])
        np.testing.assert_allclose(b, a, rtol=0, atol=200 * eps * max(1.0, np.abs(a).max()))


def test_forcing_an_unknown_or_unsupported_level_fails_clearly(monkeypatch):
    supported = _supported_levels()
    monkeypatch.setattr(_kernels, "_DISPATCH", {})
    monkeypatch.setenv("FASTML_CPU", "sse9")
    with pytest.raises(ValueError, match="FASTML_CPU must be one of"):
        _kernels.cpu_dispatch()
    if len(supported) < len(_kernels.CPU_LEVELS):
        monkeypatch.setenv("FASTML_CPU", _kernels.CPU_LEVELS[-1])
        with pytest.raises(RuntimeError, match="lacks"):
            _kernels.cpu_dispatch()
    monkeypatch.setenv("FASTML_CPU", "BaseLine")
    assert _kernels.cpu_dispatch()["level"] == "baseline"


def test_numba_cache_entries_are_keyed_by_cpu():
    """A cache directory shared by mixed machines is safe: Numba's index key holds the
    codegen's magic tuple (target triple, CPU name, CPU features) of the compiling host."""
    llvm = pytest.importorskip("llvmlite.binding")
    from numba.core.registry import cpu_target

    triple, cpu_name, features = cpu_target.target_context.codegen().magic_tuple()
    assert cpu_name == llvm.get_host_cpu_name()
    assert features
