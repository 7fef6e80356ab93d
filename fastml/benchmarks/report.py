"""Write a benchmark run as results.json, report.md, a self-contained report.html and plots.

Tables give, per case and size, each implementation's median time (and IQR), the
speedup of fastml over the reference (t_reference / t_fastml) and fastml's time ratio
to the best peer (t_fastml / t_best_peer; below 1 means fastml is faster), plus
GFLOP/s, rates and peak extra memory when known.
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


def _case_table(sizes):
    impls = []
    for rows in sizes.values():
        for r in rows:
            if r["impl"] not in impls:
                impls.append(r["impl"])
    header = ["size", *impls, "fastml vs reference", "fastml / best peer", "fastml GFLOP/s",
              "fastml rates", "peak extra memory (fastml)", "first call (fastml)"]
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


def markdown(results):
    lines = ["# fastml benchmark report", ""]
    m = results["machine"]
    lines += [f"- CPU: {m.get('cpu')} ({m.get('cores')} cores), fastml threads: "
              f"{m.get('fastml_threads')}, OpenMP: {m.get('openmp')}",
              f"- versions: {m.get('versions')}",
              f"- BLAS: {_blas_summary(m)}; environment: {m.get('env') or 'none set'}",
              f"- git commit: {m.get('git_commit', 'unknown')}; mode: "
              f"{'quick' if results['config'].get('quick') else 'full'}",
              "",
              "Times are medians (± interquartile range). `fastml vs reference` is the "
              "reference time over fastml's; `fastml / best peer` is fastml's time over the "
              "fastest peer's (below 1: fastml is faster).", ""]
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
    """PNG bytes of a log-log plot of time against size, one line per implementation."""
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
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=90)
    for name, pts in series.items():
        pts.sort()
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    ax.set_xlabel("size")
    ax.set_ylabel("median time (s)")
    ax.set_title(case_id, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def html_report(results, plots):
    esc = html.escape
    m = results["machine"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>fastml benchmarks"
             "</title><style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}th{background:#eee}</style></head><body>",
             "<h1>fastml benchmark report</h1>",
             f"<p>CPU: {esc(str(m.get('cpu')))} ({m.get('cores')} cores), fastml threads "
             f"{m.get('fastml_threads')}, OpenMP {esc(str(m.get('openmp')))}<br>"
             f"versions: {esc(str(m.get('versions')))}<br>BLAS: {esc(_blas_summary(m))}; "
             f"environment: {esc(str(m.get('env') or 'none set'))}<br>git commit: "
             f"{esc(str(m.get('git_commit', 'unknown')))}</p>"]
    for case_id, sizes in group(results["results"]).items():
        header, body, notes = _case_table(sizes)
        parts.append(f"<h2>{esc(case_id)}</h2>")
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
