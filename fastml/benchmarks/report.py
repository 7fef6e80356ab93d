"""Write a benchmark run as results.json, report.md, a self-contained report.html and plots.

The report opens with a summary: one row per case at its largest measured size with
fastml's time over the best peer's, marked win (< 0.95), tie (0.95–1.05) or loss
(> 1.05), and the counts. Then tables give, per case and size, each implementation's
median time (and IQR), the speedup of fastml over the reference (t_reference / t_fastml)
and fastml's time ratio to the best peer (t_fastml / t_best_peer; below 1 means fastml is
faster), plus GFLOP/s, rates and peak extra memory when known; cases with several sizes
get a plot of time and of the ratio against size. In the HTML report each case links to
the docs page that shows its plot (:func:`docs_url`).

:func:`compare` sets two runs side by side (``fastml bench --compare old.json new.json``):
fastml's time change per case and size, regressions first.
"""

import base64
import html
import io
import json
import os
from collections import defaultdict


def _fmt_time(s):
    if s is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _fmt_bytes(b):
    if b is None:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def group(records):
    """{case id: {size label: [records]}} keeping the run's order."""
    out = defaultdict(lambda: defaultdict(list))
    for r in records:
        out[f"{r['suite']}/{r['case']}"][r["size"]].append(r)
    return out


def ratios(rows):
    """(speedup vs reference, ratio vs best peer, best peer name) for one size's rows."""
    ok = {r["impl"]: r for r in rows if r["status"] == "ok"}
    fast = ok.get("fastml")
    if fast is None:
        return None, None, None
    ref = next((r for r in ok.values() if r["kind"] == "reference"), None)
    peers = [r for r in ok.values() if r["kind"] == "peer"]
    speedup = ref["median_s"] / fast["median_s"] if ref else None
    best = min(peers, key=lambda r: r["median_s"]) if peers else None
    ratio = fast["median_s"] / best["median_s"] if best else None
    return speedup, ratio, best["impl"] if best else None


TIE = (0.95, 1.05)  # fastml / best peer inside this band is a tie (run-to-run noise)
QUICK_NOTE = ("Quick run: the sizes are tiny, so the times measure per-call overhead "
              "(validation, dispatch, thread start-up), not throughput.")


def _verdict(ratio):
    if ratio is None:
        return "no peer"
    return "win" if ratio < TIE[0] else ("loss" if ratio > TIE[1] else "tie")


def summary(results):
    """One row per case at its largest measured size: (case id, size, fastml / best peer,
    best peer, speedup vs reference, verdict); and the count of each verdict."""
    rows = []
    for case_id, sizes in group(results["results"]).items():
        measured = [(max((r["x"] for r in recs), default=0), label, recs)
                    for label, recs in sizes.items()
                    if any(r["impl"] == "fastml" and r["status"] == "ok" for r in recs)]
        if not measured:
            continue
        _, label, recs = max(measured, key=lambda m: m[0])
        speedup, ratio, best = ratios(recs)
        rows.append((case_id, label, ratio, best, speedup, _verdict(ratio)))
    counts = {v: sum(r[5] == v for r in rows) for v in ("win", "tie", "loss", "no peer")}
    return rows, counts


def _headline(counts):
    """The summary's first sentence, as (bold part, rest), for report.md and report.html."""
    compared = counts["win"] + counts["tie"] + counts["loss"]
    return (f"{counts['win'] + counts['tie']} of {compared} cases at or below "
            f"{TIE[1]:.2f}× the best peer",
            f"({counts['win']} wins, {counts['tie']} ties, {counts['loss']} losses; "
            f"{counts['no peer']} without a peer), each at its largest measured size.")


def _summary_lines(results):
    rows, counts = summary(results)
    lead, rest = _headline(counts)
    lines = [f"**{lead}** {rest}", "",
             "| case | size | fastml / best peer | verdict | fastml vs reference |",
             "|---|---|---|---|---|"]
    for case_id, label, ratio, best, speedup, verdict in rows:
        lines.append(f"| {case_id} | {label} | "
                     f"{f'{ratio:.3g} ({best})' if ratio else '—'} | {verdict} | "
                     f"{f'{speedup:.3g}×' if speedup else '—'} |")
    return lines


def _case_table(sizes):
    impls = []
    for rows in sizes.values():
        for r in rows:
            if r["impl"] not in impls:
                impls.append(r["impl"])
    header = ["size", *impls, "fastml vs reference", "fastml / best peer", "fastml GFLOP/s",
              "fastml rates", "metrics", "peak extra memory (fastml)", "first call (fastml)"]
    body = []
    notes = set()
    for size, rows in sizes.items():
        by = {r["impl"]: r for r in rows}
        cells = [size]
        for name in impls:
            r = by.get(name)
            if r is None:
                cells.append("")
            elif r["status"] != "ok":
                cells.append("skip" if r["status"].startswith("skipped") else "error")
                notes.add(f"{name}: {r['status']}")
            else:
                cells.append(f"{_fmt_time(r['median_s'])} ±{_fmt_time(r['q75_s'] - r['q25_s'])}")
        speedup, ratio, best = ratios(rows)
        fast = by.get("fastml", {})
        cells.append(f"{speedup:.3g}×" if speedup else "—")
        cells.append(f"{ratio:.3g} ({best})" if ratio else "—")
        cells.append(f"{fast['gflops']:.3g}" if fast.get("gflops") else "—")
        cells.append(", ".join(f"{v:.4g} {k}" for k, v in (fast.get("rates") or {}).items())
                     or "—")
        cells.append("; ".join(f"{r['impl']}: " + ", ".join(f"{k} {v:.4g}" for k, v in
                                                           r["metrics"].items())
                               for r in rows if r.get("metrics")) or "—")
        cells.append(_fmt_bytes(fast.get("peak_mem_bytes")))
        cells.append(_fmt_time(fast.get("first_call_s")))
        body.append(cells)
    return header, body, sorted(notes)


def _blas_summary(machine):
    pools = machine.get("threadpools")
    if not isinstance(pools, list):
        return str(pools)
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} "
                     f"({p.get('num_threads')} threads)" for p in pools
                     if p.get("user_api") == "blas") or "unknown"


def _machine_lines(results):
    """(label, text) pairs of the run's setting, shared by report.md and report.html:
    CPU and threads, the kernel build and the CPU level it dispatched to, BLAS, package
    versions, git commit and mode."""
    m = results["machine"]
    omp = m.get("openmp") or {}
    omp_text = (f"on, {omp.get('max_threads')} threads" if omp.get("enabled")
                else f"off{' (' + omp['error'] + ')' if omp.get('error') else ''}")
    cpu = m.get("cpu_dispatch") or {}
    kernels = (cpu["error"] if "error" in cpu else
               f"{cpu.get('build')}; level {cpu.get('level')} ({cpu.get('reason')})"
               if cpu else "unknown")
    versions = m.get("versions")
    if isinstance(versions, dict):
        versions = ", ".join(f"{name} {v}" for name, v in versions.items())
    return [("CPU", f"{m.get('cpu')} ({m.get('cores')} cores), fastml threads "
                    f"{m.get('fastml_threads')}, OpenMP {omp_text}"),
            ("kernels", kernels),
            ("BLAS", f"{_blas_summary(m)}; environment: {m.get('env') or 'none set'}"),
            ("versions", str(versions)),
            ("git commit", f"{m.get('git_commit', 'unknown')}; mode: "
                           f"{'quick' if results['config'].get('quick') else 'full'}")]


def markdown(results):
    lines = ["# fastml benchmark report", ""]
    lines += [f"- {label}: {text}" for label, text in _machine_lines(results)]
    lines += ["",
              "Times are medians (± interquartile range). `fastml vs reference` is the "
              "reference time over fastml's; `fastml / best peer` is fastml's time over the "
              "fastest peer's (below 1: fastml is faster).", ""]
    if results["config"].get("quick"):
        lines += [f"> {QUICK_NOTE}", ""]
    lines += ["## Summary", "", *_summary_lines(results), ""]
    for case_id, sizes in group(results["results"]).items():
        header, body, notes = _case_table(sizes)
        lines += [f"## {case_id}", ""]
        desc = results.get("descriptions", {}).get(case_id)
        if desc:
            lines += [desc, ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
        lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return "\n".join(lines) + "\n"


def plot_case(case_id, sizes):
    """PNG bytes of two log-log panels against size: each implementation's time, and
    fastml's time over the best peer's (below the line at 1 fastml wins)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series = defaultdict(list)
    for rows in sizes.values():
        for r in rows:
            if r["status"] == "ok" and r["x"] > 0:
                series[r["impl"]].append((r["x"], r["median_s"]))
    if not any(len(v) for v in series.values()):
        return None
    ratio_pts = sorted((x, ratio) for x, ratio in
                       ((rows[0]["x"], ratios(rows)[1]) for rows in sizes.values() if rows)
                       if x > 0 and ratio)
    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=90)
    for name, pts in series.items():
        pts.sort()
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    ax.set_xlabel("size")
    ax.set_ylabel("median time (s)")
    ax.set_title(case_id, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if ratio_pts:
        xs, ys = zip(*ratio_pts)
        ax_ratio.loglog(xs, ys, "o-", color="black")
        ax_ratio.axhline(1.0, color="grey", lw=1)
        ax_ratio.fill_between(xs, TIE[0], TIE[1], color="grey", alpha=0.2)
        for x, y in ratio_pts:
            ax_ratio.plot(x, y, "o", color="tab:green" if y < TIE[0] else
                          ("tab:red" if y > TIE[1] else "tab:olive"))
    ax_ratio.set_xlabel("size")
    ax_ratio.set_ylabel("fastml / best peer")
    ax_ratio.set_title("below 1: fastml faster", fontsize=9)
    ax_ratio.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def docs_url(case_id):
    """URL of the docs page showing ``case_id``'s benchmark, or None without a docs site.

    The page comes from :data:`fastml.benchmarks.report_links.PAGES` (the benchmark index
    for a case no algorithm page shows); the site is ``$FASTML_DOCS_URL``, else the local
    build ``docs/_build/html`` of a source checkout when it exists.
    """
    from fastml.benchmarks.report_links import PAGES

    base = os.environ.get("FASTML_DOCS_URL")
    if not base:
        local = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "docs", "_build", "html")
        if not os.path.exists(os.path.join(local, "index.html")):
            return None
        base = "file://" + local
    return base.rstrip("/") + "/" + PAGES.get(case_id, "benchmarks/index.html")


def html_report(results, plots):
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>fastml benchmarks"
             "</title><style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}td{white-space:nowrap}th{background:#eee}"
             "tr.win td{background:#d9f2d9}"
             "tr.tie td{background:#f7f2cc}tr.loss td{background:#f6d5d5}"
             ".note{background:#eef;padding:6px}</style></head><body>",
             "<h1>fastml benchmark report</h1>",
             "<p>" + "<br>".join(f"{esc(label)}: {esc(text)}"
                                 for label, text in _machine_lines(results)) + "</p>"]
    if results["config"].get("quick"):
        parts.append(f"<p class='note'>{esc(QUICK_NOTE)}</p>")
    rows, counts = summary(results)
    lead, rest = _headline(counts)
    parts.append(f"<h2>Summary</h2><p><b>{esc(lead)}</b> {esc(rest)}</p>"
                 "<table><tr><th>case</th><th>size</th>"
                 "<th>fastml / best peer</th><th>verdict</th><th>fastml vs reference</th></tr>")
    for case_id, label, ratio, best, speedup, verdict in rows:
        parts.append(f"<tr class='{verdict.replace(' ', '-')}'><td style='text-align:left'>"
                     f"<a href='#{esc(case_id)}'>{esc(case_id)}</a></td><td>{esc(label)}</td>"
                     f"<td>{f'{ratio:.3g} ({esc(best)})' if ratio else '—'}</td>"
                     f"<td>{verdict}</td><td>{f'{speedup:.3g}×' if speedup else '—'}</td></tr>")
    parts.append("</table>")
    for case_id, sizes in group(results["results"]).items():
        header, body, notes = _case_table(sizes)
        url = docs_url(case_id)
        link = f" <small><a href='{esc(url)}'>docs page</a></small>" if url else ""
        parts.append(f"<h2 id='{esc(case_id)}'>{esc(case_id)}{link}</h2>")
        desc = results.get("descriptions", {}).get(case_id)
        if desc:
            parts.append(f"<p>{esc(desc)}</p>")
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for row in body:
            parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
        parts.append("</table>")
        if notes:
            parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
        if plots.get(case_id):
            data = base64.b64encode(plots[case_id]).decode()
            parts.append(f"<img alt='{esc(case_id)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(results, out_dir):
    """Write results.json, report.md, report.html and plots/*.png into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1, default=str)
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write(markdown(results))
    plots = {}
    plot_dir = os.path.join(out_dir, "plots")
    for case_id, sizes in group(results["results"]).items():
        if len(sizes) < 2:
            continue
        png = plot_case(case_id, sizes)
        if png:
            plots[case_id] = png
            os.makedirs(plot_dir, exist_ok=True)
            with open(os.path.join(plot_dir, case_id.replace("/", "__") + ".png"), "wb") as fh:
                fh.write(png)
    with open(os.path.join(out_dir, "report.html"), "w") as fh:
        fh.write(html_report(results, plots))
    return [os.path.join(out_dir, f) for f in ("results.json", "report.md", "report.html")]


def compare(old, new):
    """Rows ``(case id, size, old time, new time, new / old, old ratio, new ratio)`` for
    every case and size fastml ran in both results, regressions (largest new / old) first.
    The ratios are fastml / best peer of each run (``None`` without a peer)."""
    def fastml_rows(results):
        out = {}
        for case_id, sizes in group(results["results"]).items():
            for label, recs in sizes.items():
                fast = next((r for r in recs if r["impl"] == "fastml" and r["status"] == "ok"),
                            None)
                if fast:
                    out[case_id, label] = (fast["median_s"], ratios(recs)[1])
        return out

    before, after = fastml_rows(old), fastml_rows(new)
    rows = []
    for (case_id, label), (t_old, r_old) in before.items():
        if (case_id, label) in after:
            t_new, r_new = after[case_id, label]
            rows.append((case_id, label, t_old, t_new, t_new / t_old, r_old, r_new))
    return sorted(rows, key=lambda r: -r[4])


def compare_markdown(rows, old_name, new_name):
    """The :func:`compare` rows as a markdown table (also what ``--compare`` prints)."""
    slower = sum(r[4] > TIE[1] for r in rows)
    faster = sum(r[4] < TIE[0] for r in rows)
    lines = [f"# fastml benchmark comparison: {new_name} against {old_name}", "",
             f"{len(rows)} case sizes in both runs: {slower} slower by more than 5 %, "
             f"{faster} faster by more than 5 %, the rest within noise. Regressions first.",
             "", "| case | size | old | new | new / old | old / best peer | new / best peer |",
             "|---|---|---|---|---|---|---|"]
    for case_id, label, t_old, t_new, change, r_old, r_new in rows:
        lines.append(f"| {case_id} | {label} | {_fmt_time(t_old)} | {_fmt_time(t_new)} | "
                     f"{change:.3g}× | {f'{r_old:.3g}' if r_old else '—'} | "
                     f"{f'{r_new:.3g}' if r_new else '—'} |")
    return "\n".join(lines) + "\n"
