"""The docs cannot rot: every public name has a docstring and an API page entry, the
benchmark report's links match the pages, and every Python code block of README.md and of
``docs/**/*.rst`` (``.. code-block:: python``) runs.

The site build itself (``sphinx-build -W``) and the browser check run in ``.ci/docs``.
"""

import importlib.util
import inspect
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fastml_api = _load("fastml_api")
fastml_bench = _load("fastml_bench")


# ------------------------------------------------------------------ API coverage


def _documented_objects():
    for module_name, names in fastml_api.public_modules().items():
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                yield f"{module_name}.{name}", obj


def _own_doc(obj):
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def test_every_public_name_has_a_docstring():
    missing = sorted({name for name, obj in _documented_objects() if not _own_doc(obj)})
    assert not missing, f"public names without a docstring: {missing}"


def test_api_pages_list_every_public_name():
    stale = fastml_api.stale_pages()
    assert not stale, (f"docs/api pages out of date: {stale}; regenerate them with "
                       "`python docs/_ext/fastml_api.py`")


def _api_entries():
    """{module: [names]} as written in the committed docs/api/*.rst autosummary tables."""
    out = {}
    for path in sorted((DOCS / "api").glob("fastml*.rst")):
        text = path.read_text()
        module = re.search(r"^\.\. currentmodule:: (\S+)", text, re.M).group(1)
        table = re.search(r"\.\. autosummary::\n(?:   :.*\n)*\n((?:   \S.*\n)+)", text)
        out[module] = (table.group(1).split() if table else []) + \
            re.findall(r"^- :obj:`(\w+) <fastml\.[\w.]+>`", text, re.M)
    return out


def test_api_pages_parse_to_the_public_names():
    entries = _api_entries()
    public = fastml_api.public_modules()
    missing = sorted(f"{m}.{n}" for m, names in public.items() for n in names
                     if n not in entries.get(m, ()))
    extra = sorted(f"{m}.{n}" for m, names in entries.items() for n in names
                   if n not in public.get(m, ()))
    assert not missing, f"public names missing from docs/api: {missing}"
    assert not extra, f"docs/api lists names that are not public: {extra}"


# ------------------------------------------------------------------ benchmark plots and links


def test_report_links_match_the_pages():
    from fastml.benchmarks import report_links

    expected = fastml_bench.links_source(fastml_bench.scan_pages())
    assert Path(report_links.__file__).read_text() == expected, (
        "fastml/benchmarks/report_links.py is stale: `python docs/_ext/fastml_bench.py links`")


def test_bench_directives_name_registered_cases():
    from fastml.benchmarks import load_cases

    ids = {case.id for case in load_cases()}
    unknown = sorted(set(fastml_bench.scan_pages()) - ids)
    assert not unknown, f"fastml-bench directives naming no registered case: {unknown}"


def test_committed_results_are_registered_cases():
    from fastml.benchmarks import load_cases

    ids = {case.id for case in load_cases()}
    stale = sorted(set(fastml_bench.load_results()) - ids)
    assert not stale, f"docs/benchmarks/results holds cases that no longer exist: {stale}"


def test_case_block_measured_and_not(tmp_path, monkeypatch):
    from fastml.benchmarks import load_cases

    monkeypatch.setattr(fastml_bench, "PLOTS", tmp_path)
    case = next(c for c in load_cases() if c.id == "linalg/cholesky")
    note = "\n".join(fastml_bench.case_rst(case.id, case, None))
    assert "not measured yet" in note and ".. _bench-linalg-cholesky:" in note
    rows = [{"suite": "linalg", "case": "cholesky", "size": str(n), "x": float(n),
             "impl": impl, "kind": impl if impl != "scipy" else "peer", "status": "ok",
             "median_s": t * n**3} for n in (100, 200) for impl, t in
            (("fastml", 1e-9), ("reference", 1e-7), ("scipy", 2e-9))]
    measured = {"machine": {"cpu": "test cpu", "git_commit": "abc"}, "config": {},
                "measured_at": "2026-01-01 00:00 UTC", "description": "d", "results": rows}
    block = "\n".join(fastml_bench.case_rst(case.id, case, measured, labelled=False))
    assert ".. figure:: /benchmarks/_plots/linalg__cholesky.png" in block
    assert "test cpu" in block and "2026-01-01" in block and ".. _bench" not in block
    assert (tmp_path / "linalg__cholesky.png").stat().st_size > 0


def test_report_links_each_case(monkeypatch):
    from fastml.benchmarks import report

    monkeypatch.setenv("FASTML_DOCS_URL", "https://example.org/docs/")
    url = report.docs_url("linalg/cholesky")
    assert url.startswith("https://example.org/docs/")
    assert url.endswith("#" + fastml_bench.anchor("linalg/cholesky"))


# ------------------------------------------------------------------ code blocks run


def _markdown_blocks(path):
    text = path.read_text()
    for m in re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S):
        yield text.count("\n", 0, m.start()) + 2, m.group(1)


def _rst_blocks(path):
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. (?:code-block|code|sourcecode):: python\s*$", lines[i])
        i += 1
        if not m:
            continue
        indent = len(m.group(1))
        while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):
            i += 1  # options
        start, body = i + 1, []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        code = "\n".join(body).strip("\n")
        width = min(len(s) - len(s.lstrip()) for s in body if s.strip()) if code else 0
        yield start, "\n".join(s[width:] for s in code.splitlines()) + "\n"


def _code_blocks():
    sources = [ROOT / "README.md"]
    sources += sorted(p for p in DOCS.rglob("*.rst")
                      if not {"_build", "auto_examples", "generated"} & set(p.parts))
    out = []
    for path in sources:
        blocks = _markdown_blocks(path) if path.suffix == ".md" else _rst_blocks(path)
        for line, code in blocks:
            out.append(pytest.param(code, id=f"{path.relative_to(ROOT)}:{line}"))
    return out


@pytest.mark.parametrize("code", _code_blocks())
def test_code_block_runs(code, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(sys, "argv", ["docs-block"])
    namespace = {"__name__": "docs_block"}  # `if __name__ == "__main__":` parts are not run
    with warnings.catch_warnings(), fastml.threads(1):
        warnings.simplefilter("ignore")
        exec(compile(code, "<docs block>", "exec"), namespace)


# ------------------------------------------------------------------ the README's jitter example


def test_auto_jitter_factors_a_semidefinite_matrix_but_not_an_indefinite_one():
    """Jitter is a retry for matrices that are PD in exact arithmetic but fail through
    rounding, or are only semidefinite (GPyTorch's psd_safe_cholesky adds 1e-8 to 1e-6
    absolute; fastml 1e-10 to 1e-5 of the mean diagonal in float64). An indefinite matrix
    such as ``A - I`` with ``A``'s smallest eigenvalue 0.74 (issue 24's example) needs a
    shift of 26% of its diagonal: that is a different matrix, not jitter, so it raises."""
    from fastml import linalg

    A = np.cov(np.random.default_rng(0).standard_normal((5, 100)))
    S = np.cov(np.random.default_rng(0).standard_normal((5, 3)))  # rank 2
    with pytest.warns(fastml.JitterWarning):
        L, j = linalg.cholesky(S, jitter="auto", return_jitter=True)
    mean_diag = np.mean(np.diag(S))
    assert 0 < j <= 1e-5 * mean_diag
    np.testing.assert_allclose(L @ L.T, S + j * np.eye(5), atol=1e-12 * mean_diag)
    with pytest.raises(fastml.NotPositiveDefiniteError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linalg.cholesky(A - np.eye(5), jitter="auto")
    assert np.linalg.eigvalsh(A - np.eye(5))[0] < -0.2  # indefinite

