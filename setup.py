"""Build the compiled layer: every ``kernels/*.pyx`` becomes ``fastml.kernels.<name>``.

Environment switches
--------------------
FASTML_BUILD_ONLY   comma-separated module names (e.g. ``_linalg,_conv``) to build only
                    those extensions (development; the default builds all of them).
FASTML_NATIVE=1     build every extension once with ``-march=native``: fastest on the
                    building machine, may not run on others (SIGILL). Without it the build
                    is portable (below).
FASTML_NO_OPENMP=1  build without OpenMP; kernels then run serially (``fastml info``).
FASTML_SANITIZE     comma-separated sanitizers (e.g. ``address,undefined``): compile and
                    link with ``-fsanitize=<list> -fno-omit-frame-pointer -O1 -g`` instead
                    of ``-O3 -march=native`` (``.ci/sanitize`` builds this way in a copy of
                    the tree and runs the kernel tests and the fuzz module under it).

Portable builds and runtime CPU dispatch (the default)
-----------------------------------------------------
On x86-64 every extension is built for the baseline ``-march=x86-64-v2`` (SSE4.2, POPCNT:
every x86-64 CPU since 2009, NumPy's own baseline), and the SIMD-bound extensions listed in
``DISPATCHED`` are built twice more from the same generated C file, for ``x86-64-v3``
(AVX2 + FMA, package ``fastml.kernels._avx2``) and ``x86-64-v4`` (AVX-512 F/BW/CD/DQ/VL,
``fastml.kernels._avx512``). ``fastml._kernels.load`` picks the best build the CPU supports
when a kernel is first loaded (CPU feature detection, ``FASTML_CPU`` to force a level).
Whole-extension builds rather than per-function ``target_clones``: the hot loops are
Cython-generated C spread over many functions, and a whole build lets the compiler
vectorise and inline across them with one set of flags. Other architectures (aarch64)
build once for their baseline, without variants.
"""

import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
KERNELS = HERE / "kernels"

# Extensions whose time goes to SIMD loops the compiler vectorises (conv, attention, the nn
# kernels, pooling, recurrent cells, sparse message passing, the unsupervised distance
# loops, the rank-one Cholesky update's rotations: chol_update n=500 was 1.16x the native
# build at the baseline). The others call BLAS/LAPACK or branch too much to gain from wider
# vectors.
DISPATCHED = ("_attention", "_conv", "_decomposition", "_diffusion", "_graph", "_gmm",
              "_kmeans", "_linalg", "_nn", "_pool", "_rnn", "_tsne")
# Dispatched extensions built up to AVX2 only: on AVX-512 CPUs they load the AVX2 build.
# _pool: its small windows (3x3 over 32-wide rows) ran 12% slower at x86-64-v4 than at v3 or
# -march=native on Zen 4 (8x32x32 max pool, 26.7 vs 23.8 us, 1 thread); large inputs are
# memory-bound and equal at every level.
AVX2_ONLY = ("_pool",)
# level name -> (subpackage of fastml.kernels, -march value); the baseline has no subpackage
X86_LEVELS = {"baseline": (None, "x86-64-v2"), "avx2": ("_avx2", "x86-64-v3"),
              "avx512": ("_avx512", "x86-64-v4")}
NATIVE = os.environ.get("FASTML_NATIVE") == "1"
X86 = platform.machine().lower() in ("x86_64", "amd64")


def _compiler_accepts(compiler, flags, link_flags=()):
    """True when ``compiler`` compiles and links a small OpenMP-using program with ``flags``."""
    code = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    if not any("openmp" in f for f in flags):
        code = "int main(void){return 0;}\n"
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(code)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
        compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=list(link_flags))
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """Pick -O3, OpenMP and -march flags that this compiler accepts; build in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        compile_args = ["-O3", "-fno-math-errno", "-Wno-unused-function",
                        "-Wno-unreachable-code", "-Wno-maybe-uninitialized"]
        link_args = []
        msvc = self.compiler.compiler_type == "msvc"
        variants = [ext for ext in self.extensions if getattr(ext, "march", None)]
        if msvc:
            compile_args = ["/O2"]
            self.extensions = [ext for ext in self.extensions if ext not in variants]
        elif NATIVE:
            if _compiler_accepts(self.compiler, ["-march=native"]):
                compile_args.append("-march=native")
            self._remove_stale_variants()
        elif X86:
            compile_args += ["-march=x86-64-v2", "-mtune=generic"]
            unknown = {ext.march for ext in variants
                       if not _compiler_accepts(self.compiler, [f"-march={ext.march}"])}
            if unknown:
                print(f"fastml: compiler does not know -march={sorted(unknown)}; those CPU "
                      "levels fall back to the baseline build", file=sys.stderr)
            self.extensions = [ext for ext in self.extensions
                               if getattr(ext, "march", None) not in unknown]
        openmp = os.environ.get("FASTML_NO_OPENMP") != "1"
        if openmp:
            omp = ["/openmp"] if msvc else ["-fopenmp"]
            openmp = _compiler_accepts(self.compiler, omp, omp)
            if openmp:
                compile_args += omp
                link_args += omp if not msvc else []
            else:
                print("fastml: compiler has no OpenMP, kernels will run serially", file=sys.stderr)
        sanitize = os.environ.get("FASTML_SANITIZE", "").strip()
        if sanitize and not msvc:
            flags = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer"]
            compile_args = [a for a in compile_args
                            if a != "-O3" and not a.startswith(("-march", "-mtune"))]
            compile_args += ["-O1", "-g"] + flags
            link_args += flags
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args or [])
            ext.extra_link_args = link_args + list(ext.extra_link_args or [])
        self._rebuild_if_flags_changed(compile_args)
        super().build_extensions()

    def copy_extensions_to_source(self):
        """``--inplace``: setuptools copies the builds only into folders that exist, and a
        fresh checkout has no ``kernels/_avx2`` or ``kernels/_avx512``."""
        for package, _ in X86_LEVELS.values():
            if package and any(e.name.startswith(f"fastml.kernels.{package}.")
                               for e in self.extensions):
                (KERNELS / package).mkdir(exist_ok=True)
        super().copy_extensions_to_source()

    def _rebuild_if_flags_changed(self, compile_args):
        """setuptools skips an extension whose file is newer than its sources; after a
        switch between native, portable and sanitized builds that would keep objects
        built with the other flags, so a changed flag set forces a rebuild."""
        marker = Path(self.build_temp) / "fastml-compile-flags"
        flags = " ".join(compile_args)
        if not marker.exists() or marker.read_text() != flags:
            self.force = True
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(flags)

    def _remove_stale_variants(self):
        """A native build replaces the baseline modules; remove the per-level builds of
        the same extensions left (in the tree or in the build folder) by an earlier
        portable build, which ``fastml._kernels.load`` would otherwise prefer."""
        roots = [KERNELS] if self.inplace else [Path(self.build_lib) / "fastml" / "kernels"]
        for ext in self.extensions:
            name = ext.name.rpartition(".")[2]
            for root in roots:
                for package, _ in X86_LEVELS.values():
                    for stale in (root / package).glob(f"{name}.*") if package else ():
                        stale.unlink()


def _extension(name, source, march=None):
    ext = Extension(
        name, [source],
        include_dirs=[numpy.get_include(), str(HERE)],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=[f"-march={march}"] if march else [],
    )
    ext.march = march
    return ext


def extensions():
    """The baseline extensions (cythonized once) and, for a portable x86-64 build, the
    per-CPU-level builds of the ``DISPATCHED`` ones compiled from the same C files."""
    only = {s.strip() for s in os.environ.get("FASTML_BUILD_ONLY", "").split(",") if s.strip()}
    every = [pyx.stem for pyx in sorted(KERNELS.glob("*.pyx"))]
    if set(DISPATCHED) - set(every):  # a renamed kernel would silently lose its SIMD builds
        raise SystemExit(f"setup.py: DISPATCHED names no kernels/*.pyx: "
                         f"{sorted(set(DISPATCHED) - set(every))}")
    stems = [stem for stem in every if not only or stem in only]
    baseline = _cythonize([_extension(f"fastml.kernels.{stem}", f"kernels/{stem}.pyx")
                           for stem in stems])
    if NATIVE or not X86 or os.environ.get("FASTML_SANITIZE", "").strip():
        return baseline
    sources = {ext.name.rpartition(".")[2]: ext.sources[0] for ext in baseline}
    variants = [_extension(f"fastml.kernels.{package}.{stem}", sources[stem], march)
                for package, march in (v for v in X86_LEVELS.values() if v[0])
                for stem in stems if stem in DISPATCHED
                and not (package == "_avx512" and stem in AVX2_ONLY)]
    return baseline + variants


def _cythonize(exts):
    compiled = cythonize(
        exts,
        include_path=[str(HERE)],
        language_level=3,
        nthreads=os.cpu_count() or 1,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )
    for ext in compiled:  # cythonize returns new Extension objects
        ext.march = None
    return compiled


setup(
    packages=find_packages(include=["fastml", "fastml.*"]) + ["fastml.kernels"],
    package_dir={"fastml.kernels": "kernels"},
    package_data={"fastml.kernels": ["*.pxd"]},
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
)
