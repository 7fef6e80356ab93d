"""Run benchmark cases: warm-up, repeats within a time budget, median and IQR, memory.

For each (case, size, implementation): one first call (compilation, caches: reported
as ``first_call_s``), then timed repeats until the time budget is spent (at least
``min_repeats``, at most ``max_repeats``). The first timed repeat also measures the peak
extra resident memory: the kernel's peak RSS high-water mark is reset through
``/proc/self/clear_refs`` before the call and read from ``/proc/self/status`` after it,
so every allocator counts (NumPy, C malloc, PyTorch) for blocks of 1 MiB or more.
Elsewhere it falls back to
:mod:`tracemalloc` (NumPy allocations only).
"""

import dataclasses
import gc
import os
import sys
import time
import traceback

import numpy as np

QUICK = {"budget": 0.15, "min_repeats": 2, "max_repeats": 20}
FULL = {"budget": 1.0, "min_repeats": 5, "max_repeats": 200}


@dataclasses.dataclass
class Record:
    suite: str
    case: str
    size: str
    x: float
    impl: str
    kind: str
    status: str = "ok"
    first_call_s: float | None = None
    median_s: float | None = None
    q25_s: float | None = None
    q75_s: float | None = None
    repeats: int = 0
    gflops: float | None = None
    peak_mem_bytes: int | None = None
    rates: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        return dataclasses.asdict(self)


def _rss_peak_supported():
    """Reset the RSS high-water mark if Linux allows it.

    glibc serves freed memory again without returning it to the OS, which would hide
    a kernel's allocations from RSS; a fixed 1 MiB mmap threshold makes every block of
    1 MiB or more come from (and go back to) the OS, so it shows in the peak.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


class MemoryProbe:
    """Peak extra memory of one call, in bytes."""

    def __init__(self):
        self.rss = _rss_peak_supported()

    def measure(self, fn):
        gc.collect()
        if self.rss:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            base = _status_kib("VmRSS:")
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
            peak = _status_kib("VmHWM:")
            return out, elapsed, max(0, peak - base) * 1024
        import tracemalloc

        tracemalloc.start()
        try:
            t0 = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return out, elapsed, peak


class _Progress:
    """tqdm when installed and wanted, else one line per step on stderr."""

    def __init__(self, total, enabled):
        self.bar = None
        self.enabled = enabled
        self.total = total
        self.done = 0
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="run", file=sys.stderr, leave=False)
            except ImportError:
                pass

    def step(self, text):
        self.done += 1
        if self.bar is not None:
            self.bar.set_description_str(text[:60])
            self.bar.update(1)
        elif self.enabled:
            print(f"[{self.done}/{self.total}] {text}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _measure(call, settings, probe):
    t0 = time.perf_counter()
    answer = call()
    first = time.perf_counter() - t0
    _, elapsed, peak = probe.measure(call)
    times = [elapsed]
    spent = elapsed
    while (len(times) < settings["min_repeats"] or spent < settings["budget"]) \
            and len(times) < settings["max_repeats"]:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    q25, med, q75 = np.percentile(times, [25, 50, 75])
    return answer, first, float(med), float(q25), float(q75), len(times), peak


def run(cases, *, quick=False, budget=None, progress=None, log=None, checkpoint=None):
    """Time every (case, size, implementation); return a list of :class:`Record`.

    quick : use ``quick_sizes`` and a short budget (the whole registry in about a minute).
    budget : seconds of timed repeats per measurement (overrides the default).
    progress : show a progress bar (default: when stderr is a terminal).
    log : callable receiving one line per skipped or failed implementation.
    checkpoint : callable receiving the records so far after every (case, size), so a
        long run that is stopped still leaves what it measured.
    """
    settings = dict(QUICK if quick else FULL)
    if budget is not None:
        settings["budget"] = float(budget)
    if progress is None:
        progress = sys.stderr.isatty()
    plan = []
    for case in cases:
        sizes = case.quick_sizes if quick and case.quick_sizes is not None else case.sizes
        for size in sizes:
            plan.append((case, size))
    total = sum(len(case.impls) for case, _ in plan)
    bar = _Progress(total, progress)
    probe = MemoryProbe()
    records = []
    try:
        for case, size in plan:
            inputs = case.inputs(size)
            for impl in case.impls:
                label = f"{case.id} {case.label(size)} {impl.name}"
                bar.step(label)
                rec = Record(case.suite, case.name, case.label(size), case.key(size),
                             impl.name, impl.kind)
                records.append(rec)
                missing = impl.missing()
                if missing:
                    rec.status = f"skipped: {missing} not installed"
                    continue
                if not case.applies(impl, size):
                    rec.status = "skipped: size above max_size"
                    continue
                case_settings = settings if case.min_repeats is None else \
                    {**settings, "min_repeats": min(settings["min_repeats"], case.min_repeats)}
                try:
                    args = impl.arguments(inputs)
                    answer, rec.first_call_s, rec.median_s, rec.q25_s, rec.q75_s, \
                        rec.repeats, rec.peak_mem_bytes = _measure(
                            lambda impl=impl, args=args: impl.call(args), case_settings, probe)
                except Exception as exc:  # a failing peer must not stop the report
                    rec.status = f"error: {type(exc).__name__}: {exc}"
                    if log is not None:
                        log(f"{label}: {rec.status}\n{traceback.format_exc()}")
                    continue
                if case.flops is not None:
                    rec.gflops = case.flops(size) / rec.median_s / 1e9
                out = impl.to_numpy(answer) if impl.to_numpy else answer
                if case.rates is not None:
                    rec.rates = {f"{unit}/s": amount / rec.median_s
                                 for unit, amount in case.rates(size, out).items()}
                if case.metrics is not None:
                    rec.metrics = {k: float(v) for k, v in case.metrics(size, out).items()}
            if checkpoint is not None:
                checkpoint(records)
    finally:
        bar.close()
    return records


def machine_info():
    """CPU, cores, threads, BLAS/OpenMP, package versions and git commit."""
    import platform
    import subprocess
    from importlib import metadata

    import fastml

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "fastml_threads": fastml.get_num_threads(),
        "fastml_version": fastml.__version__,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from fastml.kernels._openmp_info import openmp_info

        enabled, max_threads = openmp_info()
        info["openmp"] = {"enabled": enabled, "max_threads": max_threads}
    except ImportError as exc:
        info["openmp"] = {"enabled": False, "error": str(exc)}
    try:
        from fastml import _kernels

        info["cpu_dispatch"] = _kernels.cpu_dispatch()
    except (ImportError, ValueError, RuntimeError) as exc:
        info["cpu_dispatch"] = {"error": str(exc)}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "architecture", "filepath")}
            for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    versions = {}
    for pkg in ("numpy", "scipy", "numba", "Cython", "torch", "scikit-learn", "emcee",
                "arviz", "openTSNE", "threadpoolctl"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    info["versions"] = versions
    info["env"] = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "OPENBLAS_CORETYPE", "MKL_NUM_THREADS")
                   if k in os.environ}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, cwd=os.path.dirname(fastml.__file__))
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info
