"""Time every (case, size, implementation) of the registry with pytest-benchmark."""


def test_case(benchmark, case, size, impl):
    inputs = case.inputs(size)
    args = impl.arguments(inputs)
    benchmark.group = f"{case.id}[{case.label(size)}]"
    benchmark.extra_info.update(suite=case.suite, size=case.label(size), kind=impl.kind)
    if case.flops is not None:
        benchmark.extra_info["flops"] = case.flops(size)
    benchmark(lambda: impl.call(args))
