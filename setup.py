"""Build the compiled layer: every ``kernels/*.pyx`` becomes ``fastml.kernels.<name>``.

Environment switches
--------------------
FASTML_BUILD_ONLY   comma-separated module names (e.g. ``_linalg,_conv``) to build only
                    those extensions (development; the default builds all of them).
FASTML_PORTABLE=1   build for a generic x86-64 instead of ``-march=native`` (use it for
                    wheels that will run on other machines).
FASTML_NO_OPENMP=1  build without OpenMP; kernels then run serially (``fastml info``).
FASTML_SANITIZE     comma-separated sanitizers (e.g. ``address,undefined``): compile and
                    link with ``-fsanitize=<list> -fno-omit-frame-pointer -O1 -g`` instead
                    of ``-O3 -march=native`` (``.ci/sanitize`` builds this way in a copy of
                    the tree and runs the kernel tests and the fuzz module under it).
"""

import os
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
        if msvc:
            compile_args = ["/O2"]
        if os.environ.get("FASTML_PORTABLE") != "1" and not msvc:
            if _compiler_accepts(self.compiler, ["-march=native"]):
                compile_args.append("-march=native")
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
            compile_args = [a for a in compile_args if a not in ("-O3", "-march=native")]
            compile_args += ["-O1", "-g"] + flags
            link_args += flags
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args or [])
            ext.extra_link_args = link_args + list(ext.extra_link_args or [])
        super().build_extensions()


def extensions():
    only = {s.strip() for s in os.environ.get("FASTML_BUILD_ONLY", "").split(",") if s.strip()}
    exts = []
    for pyx in sorted(KERNELS.glob("*.pyx")):
        if only and pyx.stem not in only:
            continue
        exts.append(Extension(
            f"fastml.kernels.{pyx.stem}",
            [str(pyx.relative_to(HERE))],
            include_dirs=[numpy.get_include(), str(HERE)],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        ))
    return cythonize(
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


setup(
    packages=find_packages(include=["fastml", "fastml.*"]) + ["fastml.kernels"],
    package_dir={"fastml.kernels": "kernels"},
    package_data={"fastml.kernels": ["*.pxd"]},
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
)
