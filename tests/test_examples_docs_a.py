"""The gallery examples of the foundations, supervised, unsupervised and probabilistic
chapters (``examples/plot_*.py`` of issue 24), run as the docs build runs them: as
``__main__`` in quick mode (``FASTML_EXAMPLE_QUICK=1``), with matplotlib's Agg backend.
Each must finish and leave its figures open for sphinx-gallery to capture. The numbers
the examples print are checked by the tests of the modules they use."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# example -> number of figures it draws
FIGURES = {
    "plot_optimizer_paths": 2,
    "plot_qp_kkt": 1,
    "plot_decision_boundaries": 1,
    "plot_bias_variance": 1,
    "plot_lasso_path": 1,
    "plot_kmeans_gmm": 1,
    "plot_pca_kernel_pca": 2,
    "plot_gp_posterior": 1,
    "plot_mcmc_traces": 2,
    "plot_conjugate_and_vi": 1,
}
# plot_tsne_digits (t-SNE on 899 digits, ~8 s of CPU) runs only in the docs build; the
# TSNE estimator has its own tests.


@pytest.fixture
def quick_gallery(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("FASTML_EXAMPLE_QUICK", "1")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    plt.close("all")
    yield plt
    plt.close("all")


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_gallery_example_runs(quick_gallery, name):
    path = EXAMPLES / f"{name}.py"
    source = path.read_text()
    assert source.startswith('"""\n') and "\n===" in source.split('"""')[1], \
        "a gallery example starts with a docstring whose first line is an RST title"
    runpy.run_path(str(path), run_name="__main__")
    assert len(quick_gallery.get_fignums()) == FIGURES[name]
    for number in quick_gallery.get_fignums():
        assert quick_gallery.figure(number).axes, f"figure {number} of {name} is empty"
