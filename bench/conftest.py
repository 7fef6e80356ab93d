"""pytest-benchmark view of the fastml case registry.

    pytest bench/ --benchmark-json=out.json            # full sizes
    FASTML_BENCH_QUICK=1 pytest bench/ -k linalg       # quick sizes
"""

import os

import pytest

from fastml import benchmarks


def _params():
    quick = os.environ.get("FASTML_BENCH_QUICK") == "1"
    params = []
    for case in benchmarks.load_cases():
        sizes = case.quick_sizes if quick and case.quick_sizes is not None else case.sizes
        for size in sizes:
            for impl in case.impls:
                marks = []
                missing = impl.missing()
                if missing:
                    marks.append(pytest.mark.skip(reason=f"{missing} not installed"))
                elif not case.applies(impl, size):
                    marks.append(pytest.mark.skip(reason="size above max_size"))
                params.append(pytest.param(case, size, impl, marks=marks,
                                           id=f"{case.id}[{case.label(size)}]-{impl.name}"))
    return params


def pytest_generate_tests(metafunc):
    if {"case", "size", "impl"} <= set(metafunc.fixturenames):
        metafunc.parametrize(("case", "size", "impl"), _params())
