"""The ``fastml`` command: ``bench`` (run benchmarks and write a report, or ``--compare`` two
runs), ``report``, ``info``."""

import argparse
import dataclasses
import json
import os
import sys
import time

_DEFAULT_OUT = "fastml-bench"


def _bench(args):
    from fastml import benchmarks, set_num_threads
    from fastml.benchmarks import report, runner

    if args.compare:
        return _compare(args)
    if args.threads:
        set_num_threads(args.threads)
    all_suites = benchmarks.suites()
    wanted = list(args.suites or []) + list(args.suite or [])
    unknown = [s for s in wanted if s not in all_suites and s not in benchmarks.SUITE_ALIASES]
    if unknown:
        print(f"unknown suite(s) {unknown}; available: {', '.join(all_suites)}",
              file=sys.stderr)
        return 2
    cases = benchmarks.select(wanted or None, args.case)
    if args.impl:  # e.g. two builds of fastml compared, where the peers' times cost only time
        cases = [dataclasses.replace(case, impls=[i for i in case.impls if i.name in args.impl])
                 for case in cases]
        cases = [case for case in cases if case.impls]
    if args.list:
        for case in cases:
            sizes = case.quick_sizes if args.quick and case.quick_sizes else case.sizes
            impls = ", ".join(i.name for i in case.impls)
            print(f"{case.id:40s} sizes={[case.label(s) for s in sizes]} impls=[{impls}]")
        return 0
    if not cases:
        print("no benchmark case matches", file=sys.stderr)
        return 2
    start = time.perf_counter()
    errors = []
    machine = runner.machine_info()

    def results_of(records):
        return {
            "machine": machine,
            "config": {"quick": args.quick, "suites": wanted or all_suites, "case": args.case,
                       "impl": args.impl, "budget": args.budget,
                       "seconds": time.perf_counter() - start},
            "descriptions": {c.id: c.description for c in cases if c.description},
            "results": [r.as_dict() for r in records],
        }

    partial = os.path.join(args.out, "results.partial.json")

    def checkpoint(records):  # `fastml report` renders it if the run is stopped
        os.makedirs(args.out, exist_ok=True)
        with open(partial, "w") as fh:
            json.dump(results_of(records), fh, indent=1, default=str)

    records = runner.run(cases, quick=args.quick, budget=args.budget,
                         progress=None if args.progress is None else args.progress,
                         log=errors.append, checkpoint=checkpoint)
    results = results_of(records)
    paths = report.write(results, args.out)
    if os.path.exists(partial):
        os.remove(partial)
    for line in errors:
        print(line, file=sys.stderr)
    print(report.markdown(results))
    print(f"wrote {', '.join(paths)} in {results['config']['seconds']:.1f} s")
    return 0


def _report(args):
    from fastml.benchmarks import report

    with open(args.results) as fh:
        results = json.load(fh)
    for path in report.write(results, args.out):
        print(path)
    return 0


def _compare(args):
    from fastml.benchmarks import report

    old_path, new_path = args.compare
    runs = []
    for path in (old_path, new_path):
        try:
            with open(path) as fh:
                runs.append(json.load(fh))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"--compare: cannot read {path}: {exc}", file=sys.stderr)
            return 2
    text = report.compare_markdown(report.compare(*runs), old_path, new_path)
    print(text, end="")
    if args.out != _DEFAULT_OUT:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "compare.md"), "w") as fh:
            fh.write(text)
    return 0


def _info(args):
    from fastml.benchmarks.runner import machine_info

    info = machine_info()
    omp = info.get("openmp", {})
    print(f"fastml {info['fastml_version']} (python {info['python']}, {info['platform']})")
    print(f"cpu: {info['cpu']}, {info['cores']} cores; fastml threads: "
          f"{info['fastml_threads']}")
    if omp.get("enabled"):
        print(f"OpenMP: enabled (max threads {omp['max_threads']})")
    else:
        print("OpenMP: NOT enabled, kernels run serially" +
              (f" ({omp['error']})" if omp.get("error") else ""))
    cpu = info.get("cpu_dispatch", {})
    if "error" in cpu:
        print(f"kernels: CPU dispatch failed: {cpu['error']}")
    else:
        print(f"kernels: {cpu['build']}; loading the {cpu['level']} build "
              f"({cpu['reason']}; this CPU supports up to {cpu['supported']})")
    pools = info["threadpools"]
    if isinstance(pools, str):
        print(f"BLAS: {pools}")
    else:
        for p in pools:
            print(f"{p['user_api']}: {p['internal_api']} {p.get('version')} "
                  f"({p.get('architecture')}), {p['num_threads']} threads")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastml", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="run benchmark cases and write a report")
    b.add_argument("suites", nargs="*", metavar="SUITE", help="suites to run (default: all)")
    b.add_argument("--suite", action="append", help="a suite to run (repeatable)")
    b.add_argument("--case", help="only cases whose id or name matches this glob")
    b.add_argument("--impl", action="append", metavar="NAME",
                   help="run only this implementation (fastml, reference, a peer's name; "
                        "repeatable); cases without it are left out")
    b.add_argument("--quick", action="store_true", help="small sizes, short budget (<1 min)")
    b.add_argument("--list", action="store_true", help="list the cases and exit")
    b.add_argument("--out", default=_DEFAULT_OUT,
                   help="output folder (default: %(default)s)")
    b.add_argument("--budget", type=float, help="seconds of timed repeats per measurement")
    b.add_argument("--threads", type=int, help="threads for fastml kernels and BLAS")
    b.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    b.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                   help="compare two results.json files (per case and size, regressions "
                        "first) instead of running; with --out also writes compare.md")
    b.set_defaults(func=_bench)
    r = sub.add_parser("report", help="rewrite the report from a results.json")
    r.add_argument("results")
    r.add_argument("--out", default="fastml-bench")
    r.set_defaults(func=_report)
    i = sub.add_parser("info", help="versions, threads, CPU dispatch, BLAS and OpenMP status")
    i.set_defaults(func=_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
