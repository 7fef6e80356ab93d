"""Every registered benchmark case, at its test sizes: all implementations agree.

This is the testing half of the case registry (the benchmarking half is
``fastml bench`` / ``pytest bench/``): the answer of every available reference and
peer implementation must match fastml's, with the case's tolerances.
"""

import pytest

from fastml import benchmarks

CASES = benchmarks.load_cases()
PARAMS = [pytest.param(case, size, id=f"{case.id}[{case.label(size)}]")
          for case in CASES for size in case.test_sizes]


def test_registry_is_well_formed():
    assert CASES, "no benchmark case registered"
    for case in CASES:
        assert case.test_sizes, f"{case.id} has no test sizes"
        assert case.sizes, f"{case.id} has no benchmark sizes"
        names = [impl.name for impl in case.impls]
        assert len(names) == len(set(names)), f"{case.id} repeats an implementation name"


@pytest.mark.parametrize(("case", "size"), PARAMS)
def test_case_implementations_agree(case, size):
    try:
        inputs = case.inputs(size)
    except FileNotFoundError as missing:  # data no package ships (../shared/data) is absent
        pytest.skip(str(missing))
    answer = case.impl("fastml").answer(inputs)
    if not case.compare:
        return
    compared = 0
    for impl in case.impls:
        if impl.name == "fastml" or impl.missing() or not case.applies(impl, size):
            continue
        other = impl.answer(inputs)
        case.assert_same(other, answer, size)
        compared += 1
    assert compared, f"{case.id} at {case.label(size)}: nothing to compare fastml with"
