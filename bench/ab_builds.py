"""Interleaved A/B timing of two builds of fastml (a portable wheel vs a native build).

Issue 26's measure: is the portable, runtime-dispatched wheel as fast as a ``-march=native``
build on this machine? Each build lives in its own Python environment (a venv with the
wheel installed); the registry's cases run in both, fastml's implementation only::

    python bench/ab_builds.py run --worker n=NATIVE/bin/python --worker p=PORTABLE/bin/python \
        --worker n2=NATIVE/bin/python [--quick] [--case GLOB] [--only FILE] [--budget 1.0] \
        SUITE ... --out FILE.json
    python bench/ab_builds.py table FILE.json [FILE.json ...] --base n --test p --noise n2

``table`` prints, per case and size, the portable/native ratio of the minimum and of the
median call time, and the same ratios for a second native worker (``n2``): the noise floor
of the machine during the run. ``--only`` takes a file of ``case-id size-label`` lines
(reruns of the sizes that were above a threshold).

One long-lived worker process per --worker (each imports the fastml of its own venv). For each
(case, size) every worker prepares the inputs (seeded, identical) and makes the first call
(compilation, caches), one at a time; then rounds: in round r the workers run in the order
rotated by r, each making k calls (k chosen so that a round of one worker takes ~0.1 s), all
others idle (blocked on their pipe). Every call's time is kept; the table compares MIN times
(the load-robust statistic of a deterministic kernel) and medians. Only the `fastml` impl runs.
"""
import json
import math
import os
import subprocess
import sys
import time


def worker():
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the kernels or libraries print goes to stderr
    import gc

    import fastml
    from fastml import _kernels, benchmarks

    def send(obj):
        proto.write(json.dumps(obj) + "\n")

    info = {"fastml": fastml.__file__, "dispatch": _kernels.cpu_dispatch(),
            "threads": fastml.get_num_threads()}
    send(info)
    current = None
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        if op == "list":
            out = []
            for case in benchmarks.select(msg["suites"] or None, msg.get("case")):
                sizes = case.quick_sizes if msg["quick"] and case.quick_sizes is not None \
                    else case.sizes
                out += [[case.id, i, case.label(s)] for i, s in enumerate(sizes)]
            send(out)
        elif op == "prep":
            current = None
            gc.collect()
            case = {c.id: c for c in benchmarks.load_cases()}[msg["id"]]
            sizes = case.quick_sizes if msg["quick"] and case.quick_sizes is not None \
                else case.sizes
            impl = case.impl("fastml")
            try:
                args = impl.arguments(case.inputs(sizes[msg["i"]]))
                t0 = time.perf_counter()
                impl.call(args)
                first = time.perf_counter() - t0
            except Exception as exc:  # report, keep going
                send({"error": f"{type(exc).__name__}: {exc}"})
                continue
            current = (impl, args)
            send({"first": first})
        elif op == "time":
            impl, args = current
            times = []
            for _ in range(msg["n"]):
                t0 = time.perf_counter()
                impl.call(args)
                times.append(time.perf_counter() - t0)
            send({"t": times})
        elif op == "drop":
            current = None
            gc.collect()
            send({})


class Worker:
    def __init__(self, name, python):
        self.name = name
        env = dict(os.environ)
        self.proc = subprocess.Popen([python, os.path.abspath(__file__), "worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, env=env, cwd="/tmp")
        self.info = self.recv()

    def ask(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self.recv()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died")
        return json.loads(line)


def uptime():
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]


def run(argv):
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("suites", nargs="*")
    ap.add_argument("--worker", action="append", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case")
    ap.add_argument("--only", help="file of 'id label' lines to run (reruns)")
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--budget", type=float, default=1.0, help="timed seconds per worker")
    ap.add_argument("--min-rounds", type=int, default=6)
    ap.add_argument("--max-rounds", type=int, default=40)
    ap.add_argument("--round", type=float, default=0.1, help="seconds per worker per round")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    workers = [Worker(*spec.split("=", 1)) for spec in a.worker]
    plan = workers[0].ask(op="list", suites=a.suites, quick=a.quick, case=a.case)
    if a.only:
        wanted = {tuple(line.split(None, 1)) for line in open(a.only).read().splitlines()
                  if line.strip()}
        plan = [p for p in plan if (p[0], p[2]) in wanted]
    plan = [p for p in plan if p[0] not in a.skip]
    out = {"workers": {w.name: w.info for w in workers}, "argv": argv,
           "start": time.strftime("%H:%M:%S"), "load_start": uptime(), "rows": []}
    for cid, i, label in plan:
        row = {"id": cid, "size": label, "first": {}, "times": {w.name: [] for w in workers},
               "load": [uptime()], "start": time.strftime("%H:%M:%S")}
        failed = False
        for w in workers:
            r = w.ask(op="prep", id=cid, i=i, quick=a.quick)
            if "error" in r:
                row["error"] = f"{w.name}: {r['error']}"
                failed = True
                break
            row["first"][w.name] = r["first"]
        if not failed:
            warm = [w.ask(op="time", n=1)["t"][0] for w in workers]
            t = max(min(warm), 1e-7)
            k = max(1, int(a.round / t))
            per_round = k * t
            rounds = min(a.max_rounds, max(a.min_rounds, math.ceil(a.budget / per_round)))
            if t > 2.0:
                rounds = min(rounds, 3)
            row["k"], row["rounds"] = k, rounds
            for r in range(rounds):
                order = workers[r % len(workers):] + workers[:r % len(workers)]
                for w in order:
                    row["times"][w.name] += w.ask(op="time", n=k)["t"]
        for w in workers:
            w.ask(op="drop")
        row["load"].append(uptime())
        out["rows"].append(row)
        mins = {n: min(ts) for n, ts in row["times"].items() if ts}
        base = workers[0].name
        msg = (" ".join(f"{n}={mins[n] / mins[base]:.3f}" for n in mins) if mins
               else row.get("error"))
        print(f"{time.strftime('%H:%M:%S')} load {row['load'][-1]} {cid} {label}: {msg}",
              flush=True)
        with open(a.out, "w") as fh:
            json.dump(out, fh)
    out["end"] = time.strftime("%H:%M:%S")
    out["load_end"] = uptime()
    with open(a.out, "w") as fh:
        json.dump(out, fh)


def _fmt(s):
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def table(argv):
    import argparse
    import statistics

    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--base", default="n")
    ap.add_argument("--test", default="p")
    ap.add_argument("--noise", default="n2")
    a = ap.parse_args(argv)
    print(f"| case | size | {a.base} min | {a.test}/{a.base} min | {a.test}/{a.base} median "
          f"| {a.noise}/{a.base} min | {a.noise}/{a.base} median | calls each |")
    print("|---|---|---|---|---|---|---|---|")
    for f in a.files:
        for row in json.load(open(f))["rows"]:
            ts = row["times"]
            if not ts.get(a.base):
                print(f"| {row['id']} | {row['size']} | error: {row.get('error')} | | | | | |")
                continue
            b = ts[a.base]
            cells = [_fmt(min(b))]
            for other in (a.test, a.noise):
                o = ts.get(other)
                cells += [f"{min(o) / min(b):.3f}",
                          f"{statistics.median(o) / statistics.median(b):.3f}"] if o else ["", ""]
            print(f"| {row['id']} | {row['size']} | " + " | ".join(cells) + f" | {len(b)} |")


if __name__ == "__main__":
    {"worker": lambda argv: worker(), "run": run, "table": table}[sys.argv[1]](sys.argv[2:])
