"""Package-level behaviour: lazy import, threads, CLI and the benchmark harness."""

import json
import subprocess
import sys

import numpy as np
import pytest

import fastml
from fastml import benchmarks
from fastml.benchmarks import Case, Impl, report, runner
from fastml.cli import main


def test_import_is_lazy(tmp_path):
    """`import fastml` loads no compiled kernel, Numba, SciPy submodule or peer."""
    code = ("import sys, fastml; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('numba', 'torch', 'sklearn', 'scipy', 'matplotlib') or "
            "m.startswith('fastml.kernels')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)  # the installed fastml, not the source
    assert out.stdout.strip() == "[]"


def test_lazy_submodules():
    assert fastml.linalg.cholesky is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastml.nope  # noqa: B018


def test_threads_setting_and_context():
    default = fastml.get_num_threads()
    with fastml.threads(1):
        assert fastml.get_num_threads() == 1
        L = fastml.linalg.cholesky(np.eye(3))
    assert fastml.get_num_threads() == default
    np.testing.assert_array_equal(L, np.eye(3))
    fastml.set_num_threads(2)
    try:
        assert fastml.get_num_threads() == 2
    finally:
        fastml.set_num_threads(None)
    assert fastml.get_num_threads() == default
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            fastml.set_num_threads(bad)


def test_omp_num_threads_is_honoured(tmp_path):
    code = "import fastml; print(fastml.get_num_threads())"
    env = {"OMP_NUM_THREADS": "3", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "3"


def _toy_case(**overrides):
    fields = dict(
        suite="toy", name="double",
        setup=lambda n, rng: {"x": rng.standard_normal(n)},
        sizes=[10, 100], quick_sizes=[10], test_sizes=[3],
        flops=lambda n: n, rates=lambda n, out: {"items": n},
        impls=[Impl("fastml", lambda x: 2 * x),
               Impl("reference", lambda x: x + x),
               Impl("missing-peer", lambda x: x, requires=("no_such_module_xyz",)),
               Impl("broken-peer", lambda x: 1 / 0)])
    fields.update(overrides)
    return Case(**fields)


def test_runner_records_and_report(tmp_path):
    case = _toy_case()
    records = runner.run([case], quick=False, budget=0.01, progress=False)
    by = {(r.size, r.impl): r for r in records}
    assert set(by) == {(s, i) for s in ("10", "100")
                       for i in ("fastml", "reference", "missing-peer", "broken-peer")}
    ok = by[("100", "fastml")]
    assert ok.status == "ok" and ok.repeats >= runner.FULL["min_repeats"]
    assert ok.q25_s <= ok.median_s <= ok.q75_s
    assert ok.gflops > 0 and ok.rates["items/s"] > 0 and ok.first_call_s > 0
    assert by[("10", "missing-peer")].status.startswith("skipped: no_such_module_xyz")
    assert by[("10", "broken-peer")].status.startswith("error: ZeroDivisionError")
    results = {"machine": runner.machine_info(), "config": {"quick": False},
               "results": [r.as_dict() for r in records]}
    paths = report.write(results, str(tmp_path))
    md = (tmp_path / "report.md").read_text()
    assert "## toy/double" in md and "fastml vs reference" in md
    assert "<img" in (tmp_path / "report.html").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(paths) == 3


def test_runner_checkpoints_after_every_size():
    seen = []
    runner.run([_toy_case()], budget=0.01, progress=False,
               checkpoint=lambda records: seen.append([(r.size, r.impl) for r in records]))
    assert [len(s) for s in seen] == [4, 8]  # 4 implementations per size, 2 sizes
    assert seen[0] == seen[1][:4]


def test_ratios_definition():
    rows = [{"impl": "fastml", "kind": "fastml", "status": "ok", "median_s": 1.0},
            {"impl": "reference", "kind": "reference", "status": "ok", "median_s": 10.0},
            {"impl": "a", "kind": "peer", "status": "ok", "median_s": 4.0},
            {"impl": "b", "kind": "peer", "status": "ok", "median_s": 2.0}]
    assert report.ratios(rows) == (10.0, 0.5, "b")


def _record(case, size, x, impl, kind, median_s):
    return {"suite": "s", "case": case, "size": size, "x": x, "impl": impl, "kind": kind,
            "status": "ok", "median_s": median_s, "q25_s": median_s, "q75_s": median_s}


def _two_runs():
    old = [_record("a", "small", 10, "fastml", "fastml", 1.0),
           _record("a", "small", 10, "peer", "peer", 0.5),
           _record("a", "big", 1000, "fastml", "fastml", 5.0),
           _record("a", "big", 1000, "peer", "peer", 10.0),
           _record("b", "n", 5, "fastml", "fastml", 2.0),
           _record("b", "n", 5, "peer", "peer", 2.02),
           _record("c", "n", 5, "fastml", "fastml", 3.0)]
    new = [dict(r, median_s=r["median_s"] * (2.0 if r["case"] == "b" else 1.0)) for r in old]
    return ({"machine": {}, "config": {"quick": True}, "results": old},
            {"machine": {}, "config": {"quick": False}, "results": new})


def test_report_summary_counts_each_case_at_its_largest_size(tmp_path):
    old, _ = _two_runs()
    rows, counts = report.summary(old)
    assert [(r[0], r[1], r[5]) for r in rows] == [("s/a", "big", "win"), ("s/b", "n", "tie"),
                                                  ("s/c", "n", "no peer")]
    assert counts == {"win": 1, "tie": 1, "loss": 0, "no peer": 1}
    report.write(old, str(tmp_path))
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Summary") < md.index("## s/a") and report.QUICK_NOTE in md
    page = (tmp_path / "report.html").read_text()
    assert page.index("Summary") < page.index("id='s/a'") and "class='win'" in page


def test_bench_compare_lists_regressions_first(tmp_path, capsys):
    old, new = _two_runs()
    rows = report.compare(old, new)
    assert rows[0][:2] == ("s/b", "n") and rows[0][4] == pytest.approx(2.0)
    assert len(rows) == 4
    paths = []
    for name, run in (("old.json", old), ("new.json", new)):
        (tmp_path / name).write_text(json.dumps(run))
        paths.append(str(tmp_path / name))
    assert main(["bench", "--compare", *paths, "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "1 slower by more than 5 %" in out and out.index("s/b") < out.index("s/a")
    assert (tmp_path / "cmp" / "compare.md").read_text() == out
    assert main(["bench", "--compare", paths[0], str(tmp_path / "missing.json")]) == 2


def test_case_validation():
    with pytest.raises(ValueError, match="no 'fastml' implementation"):
        benchmarks.register(_toy_case(impls=[Impl("reference", lambda x: x)]))
    with pytest.raises(ValueError, match="kind"):
        Impl("x", lambda: 0, kind="other")
    existing = benchmarks.load_cases()[0]
    with pytest.raises(ValueError, match="registered twice"):
        benchmarks.register(existing)


def test_memory_probe_sees_large_allocations():
    probe = runner.MemoryProbe()
    _, _, peak = probe.measure(lambda: np.ones(32 * 2**20 // 8).sum())
    assert peak >= 16 * 2**20


def test_cli_bench_quick_linalg(tmp_path, capsys):
    assert main(["bench", "--quick", "--suite", "linalg", "--budget", "0.01",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    for name in ("results.json", "report.md", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert {r["suite"] for r in data["results"]} == {"linalg"}
    assert "cores" in data["machine"] and "versions" in data["machine"]
    assert main(["report", str(tmp_path / "results.json"), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").exists()


def test_cli_list_info_and_errors(capsys):
    assert main(["bench", "--list", "linalg"]) == 0
    assert "linalg/cholesky" in capsys.readouterr().out
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "OpenMP" in out and "fastml" in out and "CPU dispatch" not in out
    assert "kernels: " in out and "build" in out
    assert main(["bench", "no-such-suite"]) == 2
    assert main(["bench", "linalg", "--case", "nothing-matches*"]) == 2
    assert main(["bench", "--list", "linalg", "--impl", "fastml"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.endswith("impls=[fastml]") for line in lines)
    assert main(["bench", "linalg", "--impl", "no-such-impl"]) == 2


def test_readme_test_command_is_what_ci_runs():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / ".ci" / "run").exists():
        pytest.skip("source tree not available")
    ci = re.search(r"^TEST_COMMAND='(.*)'$", (root / ".ci" / "run").read_text(), re.M)
    assert ci, "no TEST_COMMAND in .ci/run"
    assert ci.group(1) in (root / "README.md").read_text()


def test_not_fitted_error_is_also_sklearns_once_loaded():
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    from fastml.base import BaseEstimator, check_is_fitted

    with pytest.raises(SklearnNotFitted, match="not fitted yet") as info:
        check_is_fitted(BaseEstimator())
    assert isinstance(info.value, fastml.NotFittedError)


def test_blas_single_threaded_pins_scipy_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fastml._threads import blas_single_threaded

    def scipy_blas_threads():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "blas" and "scipy" in p["filepath"]
                and "numpy" not in p["filepath"]]

    with blas_single_threaded() as pinned:
        assert pinned
        assert scipy_blas_threads() == [1]
    assert scipy_blas_threads()
