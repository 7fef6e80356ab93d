"""The ``fastml-bench`` directive: a benchmark case's plot from committed ``fastml bench``
results, and the benchmark index page.

``.. fastml-bench:: conv/conv2d_3x3_c64_forward`` renders, for that case, each
implementation's median time against size (fastml, the reference, the peers) and fastml's
time over the best peer's, drawn by :func:`fastml.benchmarks.report.plot_case` (the same
plot as ``fastml bench``'s report), a table of the times, and the machine, date and commit
of the run. The numbers come from ``docs/benchmarks/results/<suite>.json`` (written by
``python docs/_ext/fastml_bench.py merge RESULTS.json ...``, from ``fastml bench --out``
folders). A registered case without results renders a "not measured yet" note; an unknown
case id is a warning (an error under ``-W``).

``.. fastml-bench-index::`` lists every registered case by suite, with the page that shows it.

``python docs/_ext/fastml_bench.py links`` rewrites ``fastml/benchmarks/report_links.py``,
the case -> docs page map the HTML report links to, from the directives in the pages.
"""

import datetime
import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
RESULTS = DOCS / "benchmarks" / "results"
PLOTS = DOCS / "benchmarks" / "_plots"
LINKS = DOCS.parent / "fastml" / "benchmarks" / "report_links.py"
DIRECTIVE = re.compile(r"^\s*\.\. fastml-bench::\s*(\S+)\s*$", re.M)


def anchor(case_id):
    """HTML id of a case's plot on its page: ``bench-<suite>-<case>``."""
    return "bench-" + re.sub(r"[^a-z0-9]+", "-", case_id.lower()).strip("-")


def load_results(folder=RESULTS):
    """{case id: {"machine", "config", "measured_at", "description", "results"}} merged
    from every ``<suite>.json`` in ``folder``."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        out.update(json.loads(path.read_text())["cases"])
    return out


def _machine(machine):
    keep = ("cpu", "cores", "fastml_threads", "python", "fastml_version", "git_commit")
    out = {k: machine.get(k) for k in keep}
    out["cpu_level"] = (machine.get("cpu_dispatch") or {}).get("level")
    blas = [p for p in machine.get("threadpools", ()) if p.get("user_api") == "blas"]
    out["blas"] = (f"{blas[0].get('internal_api')} {blas[0].get('version')} "
                   f"({blas[0].get('architecture')})") if blas else None
    out["versions"] = machine.get("versions", {})
    return out


def merge(paths, folder=RESULTS):
    """Fold ``fastml bench`` results.json files into ``folder/<suite>.json``, case by case
    (a later file replaces the cases it measured); the file's mtime is the date."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in map(Path, paths):
        run = json.loads(path.read_text())
        when = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
        by_case = {}
        for r in run["results"]:
            by_case.setdefault(f"{r['suite']}/{r['case']}", []).append(r)
        for case_id, rows in by_case.items():
            target = folder / f"{case_id.split('/')[0]}.json"
            data = json.loads(target.read_text()) if target.exists() else {"cases": {}}
            data["cases"][case_id] = {
                "machine": _machine(run["machine"]),
                "config": {k: run["config"].get(k) for k in ("quick", "budget")},
                "measured_at": when.strftime("%Y-%m-%d %H:%M UTC"),
                "description": run.get("descriptions", {}).get(case_id, ""),
                "results": rows,
            }
            data["cases"] = dict(sorted(data["cases"].items()))
            target.write_text(json.dumps(data, indent=1, default=str) + "\n")


def scan_pages(srcdir=DOCS):
    """{case id: docname} of the first page holding ``.. fastml-bench:: <case id>``."""
    out = {}
    for path in sorted(Path(srcdir).rglob("*.rst")):
        rel = path.relative_to(srcdir)
        if rel.parts[0].startswith("_") or rel.parts[0] in ("auto_examples", "api"):
            continue
        for case_id in DIRECTIVE.findall(path.read_text()):
            out.setdefault(case_id, rel.with_suffix("").as_posix())
    return out


def links_source(pages):
    lines = ['"""Docs page of each benchmark case, for the links of the HTML report.',
             "",
             "Generated from the ``.. fastml-bench::`` directives of ``docs/`` by",
             "``python docs/_ext/fastml_bench.py links``; ``tests/test_docs.py`` checks it",
             'is current. Values are page paths relative to the site root, with the anchor."""',
             "",
             "PAGES = {"]
    for case_id, doc in sorted(pages.items()):
        entry = f'    "{case_id}": "{doc}.html#{anchor(case_id)}",'
        lines.append(entry if len(entry) <= 100 else
                     f'    "{case_id}":\n        "{doc}.html#{anchor(case_id)}",')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _fmt_time(s):
    from fastml.benchmarks.report import _fmt_time as fmt

    return fmt(s)


def case_rst(case_id, case, measured, labelled=True):
    """RST of one case's block: anchor (``labelled``: on the first page showing the case),
    plot, table, provenance; or a 'not measured' note."""
    from fastml.benchmarks import report

    lines = [f".. _{anchor(case_id)}:", ""] if labelled else []
    title = (case.description if case else "") or case_id
    if measured is None:
        lines += [".. note::", "",
                  f"   Benchmark ``{case_id}`` ({title}) is not measured yet: run "
                  f"``fastml bench {case_id.split('/')[0]} --case {case_id.split('/')[1]}`` "
                  "and fold its ``results.json`` in with "
                  "``python docs/_ext/fastml_bench.py merge``.", ""]
        return lines
    sizes = report.group(measured["results"])[case_id]
    png = report.plot_case(case_id, sizes)
    if png:
        PLOTS.mkdir(parents=True, exist_ok=True)
        name = case_id.replace("/", "__") + ".png"
        if not (PLOTS / name).exists() or (PLOTS / name).read_bytes() != png:
            (PLOTS / name).write_bytes(png)
        lines += [f".. figure:: /benchmarks/_plots/{name}",
                  f"   :alt: benchmark {case_id}: time against size", "   :width: 100%", "",
                  f"   ``{case_id}``: {measured['description'] or title}", ""]
    impls = list(dict.fromkeys(r["impl"] for rows in sizes.values() for r in rows))
    lines += [".. list-table::", "   :header-rows: 1", "",
              "   * - size", *[f"     - {name}" for name in impls]]
    for label, rows in sizes.items():
        by_impl = {r["impl"]: r for r in rows}
        lines.append(f"   * - {label}")
        for name in impls:
            r = by_impl.get(name)
            cell = "—" if r is None else (_fmt_time(r["median_s"]) if r["status"] == "ok"
                                         else r["status"])
            lines.append(f"     - {cell}")
    m, cfg = measured["machine"], measured["config"]
    lines += ["", f"Median of timed repeats, measured {measured['measured_at']} on "
              f"{m.get('cpu')} ({m.get('cores')} cores, {m.get('fastml_threads')} threads, "
              f"{m.get('cpu_level')} kernels, {m.get('blas')}), fastml "
              f"{m.get('fastml_version')} at commit ``{(m.get('git_commit') or '?')[:10]}``"
              + (", quick sizes" if cfg.get("quick") else "")
              + (f", budget {cfg['budget']} s" if cfg.get("budget") else "")
              + ". One run: all implementations of a size were timed in the same run.", ""]
    return lines


def setup(app):
    from docutils.parsers.rst import Directive, directives
    from docutils.statemachine import StringList
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    state = {}

    def registry():
        if "cases" not in state:
            from fastml.benchmarks import load_cases

            state["cases"] = {c.id: c for c in load_cases()}
            state["results"] = load_results()
            state["pages"] = scan_pages(app.srcdir)
        return state["cases"], state["results"], state["pages"]

    def emit(directive, lines):
        from docutils import nodes

        node = nodes.container(classes=["fastml-bench"])
        directive.state.nested_parse(StringList(lines, source="fastml-bench"),
                                     directive.content_offset, node)
        return [node]

    class FastmlBench(Directive):
        required_arguments = 1
        has_content = False

        def run(self):
            case_id = self.arguments[0]
            cases, results, pages = registry()
            docname = self.state.document.settings.env.docname
            if case_id not in cases:
                logger.warning("fastml-bench: unknown benchmark case %r (see fastml bench "
                               "--list)", case_id, location=(docname, self.lineno))
                return []
            return emit(self, case_rst(case_id, cases[case_id], results.get(case_id),
                                       labelled=pages.get(case_id) == docname))

    class FastmlBenchIndex(Directive):
        has_content = False

        def run(self):
            cases, results, pages = registry()
            lines = []
            for suite in sorted({c.suite for c in cases.values()}):
                lines += [f"``{suite}``", "", ".. list-table::", "   :header-rows: 1",
                          "   :widths: 40 40 20", "", "   * - case", "     - shown on",
                          "     - measured"]
                for case_id, case in sorted(cases.items()):
                    if case.suite != suite:
                        continue
                    page = pages.get(case_id)
                    where = (f":ref:`{page} <{anchor(case_id)}>`" if page else "—")
                    when = results[case_id]["measured_at"] if case_id in results else "not yet"
                    lines += [f"   * - ``{case.name}``", f"     - {where}", f"     - {when}"]
                lines.append("")
            return emit(self, lines)

    def always_outdated(app, env, added, changed, removed):
        return ["benchmarks/index"] if "benchmarks/index" in env.found_docs else []

    directives.register_directive("fastml-bench", FastmlBench)
    directives.register_directive("fastml-bench-index", FastmlBenchIndex)
    app.connect("env-get-outdated", always_outdated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    if sys.argv[1:2] == ["merge"]:
        merge(sys.argv[2:])
    elif sys.argv[1:2] == ["links"]:
        LINKS.write_text(links_source(scan_pages()))
    else:
        sys.exit("usage: python docs/_ext/fastml_bench.py merge RESULTS.json ... | links")
