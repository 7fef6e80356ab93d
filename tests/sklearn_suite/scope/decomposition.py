"""Out-of-scope tests of scikit-learn's decomposition suite (see ``out_of_scope.py``)."""

OUT_OF_SCOPE = {
    "decomposition/tests/test_kernel_pca.py": {
        r"test_kernel_pca\[.*\]": "passes a Python callable as kernel; fastml evaluates its "
                              "kernels in one compiled fused GEMM + kernel pass and accepts "
                              "the named kernels or 'precomputed' on purpose",
    },
}
