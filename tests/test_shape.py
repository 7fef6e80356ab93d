"""The shape every module shares (ARCHITECTURE.md "Shape of a module"), checked.

1. Import rules (parsed, not imported): kernels import no ``fastml`` module; no module
   imports another package's private name unless the provider lists it in ``__cores__``
   (the unchecked cores meant for internal callers, e.g. ``fastml.linalg._cholesky``).
2. The registry contract: every public function/estimator of the modules below has a
   reference implementation and a benchmark case, or stands in ``EXEMPT`` with the
   reason. Modules added after issue 14 add their rows here.
3. Argument checks live in ``fastml/_validation.py`` (and the estimators'
   ``_parameter_constraints`` tables it checks): every other ``raise ValueError/TypeError``
   is counted, per file, in ``tests/shape_exemptions/raises_<area>.py`` with its reason.
"""

import ast
import importlib
import pathlib
import sys

import pytest

from fastml import benchmarks

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Shared layer: anything in it may be imported from anywhere.
SHARED = {"fastml", "fastml._validation", "fastml._kernels", "fastml._errors",
          "fastml._threads", "fastml.base"}

# Imports of other packages' private helpers that their owners still have to replace
# with cores (listed in the provider's __cores__) or shared helpers. Each entry is
# (importing module, imported module, name); remove it when fixed.
KNOWN_PRIVATE_IMPORTS = set()
# Kernels that still import the public layer (absolute fastml.kernels.* imports run
# fastml/__init__.py); remove an entry when its import is made relative.
KNOWN_KERNEL_IMPORTS = set()


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module):
    """fastml.gp._sparse -> "gp"; the unit inside which private names may be shared."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cores(module):
    """The names ``module`` (a module or a package's ``__init__``) lists in ``__cores__``."""
    base = ROOT / module.replace(".", "/")
    path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)
    if path is None:
        return set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__cores__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def _private_imports():
    for path in sorted((ROOT / "fastml").rglob("*.py")):
        me = _module_name(path)
        if _package(me) in ("benchmarks", "reference", "cli", "__main__"):
            continue  # the registry and the references may reach into any module
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.startswith("fastml.")):
                continue
            if node.module in SHARED or _package(node.module) == _package(me):
                continue
            for alias in node.names:
                if alias.name.startswith("_"):
                    yield me, node.module, alias.name


def test_no_module_imports_another_packages_private_helper():
    bad = {imp for imp in _private_imports()
           if imp[2] not in _cores(imp[1]) and imp not in KNOWN_PRIVATE_IMPORTS}
    assert not bad, ("private helpers imported across packages (call a core listed in "
                     f"the provider's __cores__, or move the helper to _validation): {bad}")


def _imports_fastml(path):
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "fastml"
                                                    for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] == "fastml":
                return True
        return False
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("import", "from", "cimport") and \
                words[1].split(".")[0] == "fastml":
            return True
    return False


def test_kernels_import_no_fastml_module():
    files = [p for p in sorted((ROOT / "kernels").iterdir()) if p.suffix in (".py", ".pyx",
                                                                             ".pxd")]
    bad = {str(p.relative_to(ROOT)) for p in files if _imports_fastml(p)}
    assert not bad - KNOWN_KERNEL_IMPORTS, f"kernels importing fastml: {bad}"


# ---------------------------------------------------------------- registry contract
# public name -> (reference implementation, benchmark case id)
CONTRACT = {
    "fastml.linalg.cholesky": ("fastml.reference.linalg.cholesky", "linalg/cholesky"),
    "fastml.linalg.cho_solve": ("fastml.reference.linalg.cho_solve", "linalg/cho_solve"),
    "fastml.linalg.solve_triangular": ("fastml.reference.linalg.solve_triangular",
                                       "linalg/cho_solve"),
    "fastml.linalg.chol_update": ("fastml.reference.linalg.chol_update", "linalg/chol_update"),
    "fastml.linalg.chol_downdate": ("fastml.reference.linalg.chol_downdate",
                                    "linalg/chol_downdate"),
    "fastml.cluster.KMeans": ("fastml.reference.cluster.kmeans_lloyd", "cluster/kmeans_lloyd"),
    "fastml.mixture.GaussianMixture": ("fastml.reference.mixture.gaussian_mixture_em",
                                       "mixture/gmm_full"),
    "fastml.mixture.BayesianGaussianMixture": (
        "fastml.reference.mixture.bayesian_gaussian_mixture_cavi", "variational/bgm_digits"),
    "fastml.decomposition.PCA": ("fastml.reference.decomposition.pca", "decomposition/pca"),
    "fastml.decomposition.KernelPCA": ("fastml.reference.decomposition.kernel_pca",
                                       "decomposition/kernel_pca"),
    "fastml.manifold.TSNE": ("fastml.reference.manifold.tsne_exact", "manifold/tsne_digits"),
    "fastml.gp.GaussianProcessRegressor": ("fastml.reference.gp.fit_rbf_white", "gp/fit"),
    "fastml.gp.SparseGaussianProcessRegressor": ("fastml.reference.gp.sgpr_bound",
                                                 "gp/sparse_bound"),
    "fastml.linear_model.LinearRegression": ("fastml.reference.linear_model.linear_regression",
                                             "linear_model/ols"),
    "fastml.linear_model.Ridge": ("fastml.reference.linear_model.ridge_gradient_descent",
                                  "linear_model/ridge"),
    "fastml.linear_model.Lasso": ("fastml.reference.linear_model.enet_coordinate_descent",
                                  "linear_model/lasso"),
    "fastml.linear_model.LogisticRegression": ("fastml.reference.linear_model.logistic_newton",
                                               "linear_model/logistic_binary_newton"),
    "fastml.linear_model.Perceptron": ("fastml.reference.linear_model.perceptron",
                                       "linear_model/perceptron"),
    "fastml.svm.SVC": ("fastml.reference.svm.smo", "svm/svc_rbf"),
    "fastml.bayes.BayesianLinearRegression": ("fastml.reference.bayes.gibbs_nig",
                                              "mcmc/gibbs_nig"),
    "fastml.mcmc.sample": ("fastml.reference.mcmc.nuts", "mcmc/nuts_gauss100"),
    "fastml.nn.functional.scaled_dot_product_attention": (
        "fastml.reference.attention.scaled_dot_product_attention", "attention/sdpa_forward"),
    "fastml.nn.functional.scaled_dot_product_attention_backward": (
        "fastml.reference.attention.scaled_dot_product_attention_backward",
        "attention/sdpa_backward"),
    "fastml.nn.functional.multi_head_attention": (
        "fastml.reference.attention.multi_head_attention", "attention/mha_forward"),
    "fastml.nn.MultiheadAttention": ("fastml.reference.attention.multi_head_attention",
                                     "attention/mha_forward"),
    "fastml.nn.functional.conv2d": ("fastml.reference.conv.conv2d", "conv/conv2d_3x3_c64_forward"),
    "fastml.nn.functional.conv2d_backward": ("fastml.reference.conv.conv2d_backward",
                                             "conv/conv2d_3x3_c64_backward"),
    "fastml.nn.functional.conv1d": ("fastml.reference.conv.conv2d", "conv/conv1d_k9_forward"),
    "fastml.nn.functional.conv1d_backward": ("fastml.reference.conv.conv2d_backward",
                                             "conv/conv1d_k9_backward"),
    "fastml.nn.functional.max_pool2d": ("fastml.reference.conv.max_pool2d",
                                        "conv/max_pool2d_forward"),
    "fastml.nn.functional.max_pool2d_backward": ("fastml.reference.conv.max_pool2d_backward",
                                                 "conv/max_pool2d_backward"),
    "fastml.nn.functional.avg_pool2d": ("fastml.reference.conv.avg_pool2d",
                                        "conv/avg_pool2d_forward"),
    "fastml.nn.functional.avg_pool2d_backward": ("fastml.reference.conv.avg_pool2d_backward",
                                                 "conv/avg_pool2d_backward"),
    "fastml.nn.functional.layer_norm": ("fastml.reference.nn.layer_norm_forward",
                                        "nn/layer_norm"),
    "fastml.nn.functional.layer_norm_backward": ("fastml.reference.nn.layer_norm_backward",
                                                 "nn/layer_norm_backward"),
    "fastml.nn.functional.gelu": ("fastml.reference.nn.gelu_forward", "nn/gelu"),
    "fastml.nn.functional.cross_entropy": ("fastml.reference.nn.cross_entropy_forward",
                                           "nn/softmax_cross_entropy"),
    "fastml.nn.Adam": ("fastml.reference.nn.adam_step", "nn/adam_step"),
    "fastml.nn.Linear": ("fastml.reference.nn.linear_forward", "nn/mlp_train_step"),
    "fastml.nn.Conv2d": ("fastml.reference.nn.small_cnn_train_step", "nn/cnn_train_step"),
    "fastml.distributed.KMeans": ("fastml.reference.distributed.kmeans_blocks",
                                  "distributed/kmeans_blobs"),
}

# public name (or "module.*") -> why it has no reference and/or no benchmark of its own
EXEMPT = {
    "fastml.linalg.logdet_chol": "one NumPy reduction over the factor's diagonal",
    "fastml.cluster.MiniBatchKMeans": "same Lloyd kernels as KMeans (cluster/kmeans_lloyd)",
    "fastml.cluster.kmeans_plusplus": "seeding inside KMeans; timed within its cases",
    "fastml.linear_model.ElasticNet": "Lasso's coordinate descent with l1_ratio < 1",
    "fastml.linear_model.lasso_path": "a loop of Lasso fits with warm starts",
    "fastml.linear_model.enet_path": "a loop of ElasticNet fits with warm starts",
    "fastml.svm.LinearSVC": "benchmarked (svm/linear_svc); reference: TODO (dual CD)",
    "fastml.bayes.*": "conjugate closed forms (one line of algebra each) except the NIG "
                      "Gibbs sampler, benchmarked as mcmc/gibbs_nig",
    "fastml.mcmc.ess": "diagnostics: FFT autocorrelation, checked against ArviZ in tests",
    "fastml.mcmc.rhat": "diagnostics, checked against ArviZ in tests",
    "fastml.mcmc.mcse": "diagnostics, checked against ArviZ in tests",
    "fastml.mcmc.adaptation_plan": "warm-up window schedule (integers)",
    "fastml.mcmc.Trace": "result container",
    "fastml.mcmc.Summary": "result container",
    "fastml.mcmc.SamplingWarning": "warning class",
    "fastml.mcmc.METHODS": "constant",
    "fastml.model_selection.*": "teaching utilities built on the estimators (loops of fits)",
    "fastml.gp.kernels.*": "evaluated inside GaussianProcessRegressor (gp/fit, gp/lml_grad); "
                           "reference: fastml.reference.gp.rbf_white_kernel",
    "fastml.nn.init.*": "initialisers: one NumPy draw each",
    "fastml.nn.optim.*": "Adam/AdamW benchmarked as nn/adam_step; SGD and schedulers are "
                         "a few NumPy lines",
    "fastml.nn.utils.*": "one NumPy norm",
    "fastml.distributed.sample": "its reference is fastml.mcmc.sample on one machine (the "
                                 "same draws, tests/test_distributed.py); benchmarked as "
                                 "distributed/nuts_kidiq_workers",
    "fastml.distributed.ParallelPostFit": "its reference is the wrapped estimator in memory; "
                                          "benchmarked as distributed/postfit_predict",
}
_NN_SMALL = ("elementwise activations and losses in NumPy (one pass each); the fused "
             "compiled ones (GELU, LayerNorm, cross-entropy, Linear) have cases")
for _name in ("relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "gelu_backward",
              "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "softmax",
              "softmax_backward", "log_softmax", "mse_loss", "mse_loss_backward",
              "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
              "dropout", "batch_norm", "batch_norm_backward", "cross_entropy_backward",
              "linear", "linear_backward", "multi_head_attention_backward"):
    EXEMPT[f"fastml.nn.functional.{_name}"] = _NN_SMALL
for _name in ("AdamW", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
              "Conv1d", "CosineAnnealingLR", "CrossEntropyLoss", "Dropout", "Embedding",
              "Flatten", "GELU", "GradcheckError", "Identity", "LayerNorm", "LeakyReLU",
              "LinearLR", "MSELoss", "MaxPool2d", "Module", "Parameter", "Perceptron", "ReLU",
              "Residual", "SGD", "Sequential", "SequentialLR", "Sigmoid", "Softmax", "StepLR",
              "Tanh", "clip_grad_norm_", "gradcheck", "manual_seed"):
    EXEMPT[f"fastml.nn.{_name}"] = ("layer/optimizer/container over nn.functional, whose "
                                    "kernels have the cases; Perceptron is linear_model's")

MODULES = ["fastml.linalg", "fastml.cluster", "fastml.mixture", "fastml.decomposition",
           "fastml.manifold", "fastml.gp", "fastml.gp.kernels", "fastml.linear_model",
           "fastml.svm", "fastml.bayes", "fastml.mcmc", "fastml.model_selection", "fastml.nn",
           "fastml.nn.functional", "fastml.nn.init", "fastml.nn.optim", "fastml.nn.utils"]


def _public(module_name):
    import inspect

    module = importlib.import_module(module_name)
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name, None)
        if obj is not None and not inspect.ismodule(obj):
            yield f"{module_name}.{name}"


def _resolve(dotted):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _snapshot_names():
    import json

    data = json.loads((ROOT / "tests" / "data" / "public_signatures.json").read_text())
    return {f"{m}.{n}" for m in MODULES for n in data.get(m, {})}


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_reference_and_case_or_is_exempt(module_name):
    known = _snapshot_names()
    missing = [name for name in _public(module_name)
               if name in known and name not in CONTRACT and name not in EXEMPT
               and f"{module_name}.*" not in EXEMPT]
    assert not missing, f"no reference/benchmark and no exemption: {missing}"


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_entries_exist(name):
    reference, case_id = CONTRACT[name]
    assert callable(_resolve(name)) and callable(_resolve(reference))
    ids = {case.id for case in benchmarks.load_cases()}
    assert case_id in ids, f"{name}: no benchmark case {case_id!r}"


# ---------------------------------------------------------------- argument checks
# What is NOT an argument check, and so may raise outside _validation.py. An argument
# check is a rule on ONE argument alone: its type, range, option, shape, ndim, dtype,
# emptiness or finiteness; those go through fastml/_validation.py helpers or the
# estimator's _parameter_constraints table.
RAISE_CATEGORIES = {
    "cross-argument": "two or more arguments (or an argument and the fitted state's "
                      "shape) disagree",
    "data content": "a rule on the values of the data beyond finiteness (labels, graph "
                    "structure, a matrix that is not positive definite, a token not in "
                    "the vocabulary, a file's format)",
    "state": "call order or object state (not fitted, already built, closed)",
    "re-raise": "a lower error re-raised with the argument's name",
    "constraint helper": "a check used by this module's constraints table or a kind "
                         "object of _validation.check_params",
    "numerical": "a failure of the algorithm at run time (non-convergence, breakdown)",
    "protocol": "a Python protocol of an object (operators, indexing, pickling, "
                "unsupported operation on a type)",
}
_RAISE_NAMES = {"ValueError", "TypeError"}


def _raise_lines(tree):
    """Line numbers of ``raise ValueError(...)`` / ``raise TypeError`` statements."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id in _RAISE_NAMES:
            lines.append(node.lineno)
    return sorted(lines)


def _raises_by_file():
    found = {}
    for path in sorted((ROOT / "fastml").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "fastml/_validation.py":
            continue
        lines = _raise_lines(ast.parse(path.read_text()))
        if lines:
            found[rel] = lines
    return found


def _area(rel):
    """fastml/nn/functional/_core.py -> "nn"; fastml/_kernels.py -> "kernels"."""
    first = rel.split("/")[1]
    return first.removesuffix(".py").lstrip("_")


def _exemption_tables():
    if str(ROOT / "tests") not in sys.path:  # --import-mode=importlib
        sys.path.insert(0, str(ROOT / "tests"))
    tables = {}
    for path in sorted((ROOT / "tests" / "shape_exemptions").glob("raises_*.py")):
        module = importlib.import_module(f"shape_exemptions.{path.stem}")
        tables[path.stem.removeprefix("raises_")] = module.RAISES
    return tables


def test_raise_exemption_tables_are_well_formed():
    problems = []
    for area, table in _exemption_tables().items():
        if list(table) != sorted(table):
            problems.append(f"raises_{area}.py: entries not sorted by path")
        for rel, reasons in table.items():
            if not (ROOT / rel).exists():
                problems.append(f"raises_{area}.py: {rel} does not exist")
            if _area(rel) != area:
                problems.append(f"{rel} belongs in raises_{_area(rel)}.py, not raises_{area}.py")
            for reason, count in reasons.items():
                category = reason.split(":", 1)[0]
                if category not in RAISE_CATEGORIES or ":" not in reason:
                    problems.append(f"{rel}: reason {reason!r} must start with one of "
                                    f"{sorted(RAISE_CATEGORIES)} and a colon")
                if not (isinstance(count, int) and count > 0):
                    problems.append(f"{rel}: {reason!r} needs a positive count")
    assert not problems, "\n".join(problems)


def test_raises_outside_validation_are_counted_exemptions():
    """Every ``raise ValueError/TypeError`` outside _validation.py is an exemption with a
    reason (tests/shape_exemptions/); argument checks call _validation helpers instead."""
    allowed = {rel: sum(reasons.values()) for table in _exemption_tables().values()
               for rel, reasons in table.items()}
    found = _raises_by_file()
    bad = []
    for rel in sorted(set(found) | set(allowed)):
        lines, n = found.get(rel, []), allowed.get(rel, 0)
        if len(lines) != n:
            bad.append(f"{rel}: {len(lines)} raise ValueError/TypeError, the exemption table "
                       f"raises_{_area(rel)}.py counts {n} (lines {lines})")
    assert not bad, ("argument checks outside fastml/_validation.py (use its helpers), or "
                     "exemption counts out of date:\n" + "\n".join(bad))
