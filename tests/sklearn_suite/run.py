"""scikit-learn's own test modules run against fastml's estimators (issue 25's measure).

For each module below: copy it from the installed scikit-learn into a scratch folder,
rebind the public names to fastml's classes right after the module's imports (so every
test that builds ``KMeans(...)`` builds fastml's), and run it with scikit-learn's
``conftest`` fixtures (``-p sklearn.conftest``). A test is counted only when it
exercises a rebound name (its function body or its parametrisation mentions one);
the others test scikit-learn's private helpers and say nothing about fastml. Tests on
``OUT_OF_SCOPE`` (with the reason) are not counted either. Sparse-input tests (an id
that names a sparse container) are counted apart from the dense ones.

    python tests/sklearn_suite/run.py [--module cluster/tests/test_k_means.py] [--out DIR]

prints the table (pass / total, dense and sparse, and the most common first lines of
the failures) and writes ``DIR/table.md`` and ``DIR/<module>.xml`` (JUnit).
Not part of the test suite: a run takes minutes.
"""

import argparse
import ast
import collections
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from out_of_scope import OUT_OF_SCOPE  # noqa: E402

# scikit-learn test module -> {public module: {name: fastml replacement}}
MODULES = {
    "cluster/tests/test_k_means.py": {
        "sklearn.cluster": {"KMeans": "fastml.cluster.KMeans",
                            "MiniBatchKMeans": "fastml.cluster.MiniBatchKMeans",
                            "kmeans_plusplus": "fastml.cluster.kmeans_plusplus"}},
    "decomposition/tests/test_pca.py": {
        "sklearn.decomposition": {"PCA": "fastml.decomposition.PCA"}},
    "decomposition/tests/test_kernel_pca.py": {
        "sklearn.decomposition": {"KernelPCA": "fastml.decomposition.KernelPCA"}},
    "linear_model/tests/test_coordinate_descent.py": {
        "sklearn.linear_model": {"Lasso": "fastml.linear_model.Lasso",
                                 "ElasticNet": "fastml.linear_model.ElasticNet",
                                 "lasso_path": "fastml.linear_model.lasso_path",
                                 "enet_path": "fastml.linear_model.enet_path"}},
    "linear_model/tests/test_ridge.py": {
        "sklearn.linear_model": {"Ridge": "fastml.linear_model.Ridge"}},
    "linear_model/tests/test_logistic.py": {
        "sklearn.linear_model": {"LogisticRegression": "fastml.linear_model.LogisticRegression"}},
    "linear_model/tests/test_perceptron.py": {
        "sklearn.linear_model": {"Perceptron": "fastml.linear_model.Perceptron"}},
    "linear_model/tests/test_base.py": {
        "sklearn.linear_model": {"LinearRegression": "fastml.linear_model.LinearRegression"}},
    "mixture/tests/test_gaussian_mixture.py": {
        "sklearn.mixture": {"GaussianMixture": "fastml.mixture.GaussianMixture"}},
    "mixture/tests/test_bayesian_mixture.py": {
        "sklearn.mixture": {"BayesianGaussianMixture": "fastml.mixture.BayesianGaussianMixture"}},
    "gaussian_process/tests/test_gpr.py": {
        "sklearn.gaussian_process": {
            "GaussianProcessRegressor": "fastml.gp.GaussianProcessRegressor"}},
    "svm/tests/test_svm.py": {
        "sklearn.svm": {"SVC": "fastml.svm.SVC", "LinearSVC": "fastml.svm.LinearSVC"}},
    "manifold/tests/test_t_sne.py": {
        "sklearn.manifold": {"TSNE": "fastml.manifold.TSNE"}},
}

SPARSE = re.compile(r"csr|csc|coo|lil|dok|bsr|dia_|sparse", re.IGNORECASE)


def _rebound(source, names):
    """The module's source with the names rebound after its last top-level import."""
    tree = ast.parse(source)
    last = max(node.end_lineno for node in tree.body
               if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines = source.splitlines()
    rebinding = ["", "# --- rebound to fastml by tests/sklearn_suite/run.py ---",
                 "import importlib"]
    for name, target in names.items():
        module, _, attr = target.rpartition(".")
        rebinding.append(f"{name} = getattr(importlib.import_module({module!r}), {attr!r})")
    return "\n".join(lines[:last] + rebinding + lines[last:]) + "\n"


def _exercising_tests(source, names):
    """Test functions whose body or decorators mention a rebound name (directly or
    through a module-level helper that does)."""
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    module_values = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
                     for t in n.targets if isinstance(t, ast.Name)}

    def mentions(node, seen):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                if sub.id in names:
                    return True
                if sub.id not in seen and (sub.id in functions or sub.id in module_values):
                    seen.add(sub.id)
                    target = functions.get(sub.id) or module_values[sub.id]
                    if mentions(target, seen):
                        return True
        return False

    return {name for name, fn in functions.items()
            if name.startswith("test") and mentions(fn, {name})}


def run_module(relpath, rebind, out_dir):
    import sklearn

    source = (pathlib.Path(sklearn.__file__).parent / relpath).read_text()
    names = {n: t for mapping in rebind.values() for n, t in mapping.items()}
    exercising = _exercising_tests(source, names)
    with tempfile.TemporaryDirectory() as tmp:
        test_file = pathlib.Path(tmp) / ("test_" + relpath.replace("/", "_"))
        test_file.write_text(_rebound(source, names))
        xml = out_dir / (relpath.replace("/", "_") + ".xml")
        subprocess.run([sys.executable, "-m", "pytest", str(test_file), "-p", "sklearn.conftest",
                        "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--tb=line",
                        f"--junitxml={xml}", "-W", "ignore"], cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counts = {"dense": collections.Counter(), "sparse": collections.Counter()}
    causes = collections.Counter()
    scope = OUT_OF_SCOPE.get(relpath, {})
    for case in ET.parse(xml).getroot().iter("testcase"):
        full = case.get("name")
        base = full.split("[")[0]
        result = next(iter(case), None)
        if not base.startswith("test") and result is not None and result.tag == "error":
            lines = [ln for ln in (result.text or "").splitlines() if ln.startswith("E ")]
            causes["collection error: " + (lines[-1][1:].strip()[:100] if lines else "")] += 1
            continue
        if base not in exercising or any(re.fullmatch(p, full) for p in scope):
            continue
        kind = "sparse" if SPARSE.search(full) else "dense"
        if result is None:
            counts[kind]["passed"] += 1
        elif result.tag == "skipped":
            counts[kind]["skipped"] += 1
        else:
            counts[kind]["failed"] += 1
            message = (result.get("message") or "").splitlines()
            causes[message[0][:120] if message else result.tag] += 1
    return counts, causes


def _ratio(c):
    total = c["passed"] + c["failed"]
    return f"{c['passed']} / {total}" + (f" ({100 * c['passed'] / total:.0f}%)" if total else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only these test modules")
    parser.add_argument("--out", default="sklearn-suite", type=pathlib.Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["| scikit-learn test module | dense pass / total | sparse pass / total | "
            "skipped | most common failures |", "|---|---|---|---|---|"]
    for relpath, rebind in MODULES.items():
        if args.module and relpath not in args.module:
            continue
        counts, causes = run_module(relpath, rebind, args.out)
        top = "; ".join(f"{n}× {msg}" for msg, n in causes.most_common(3)).replace("|", "/")
        skipped = counts["dense"]["skipped"] + counts["sparse"]["skipped"]
        rows.append(f"| `{relpath}` | {_ratio(counts['dense'])} | {_ratio(counts['sparse'])} | "
                    f"{skipped} | {top} |")
        print(rows[-1], flush=True)
    (args.out / "table.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
