"""Builds kiln._kiln with the repository's CMake (the library and the module
in one build directory, reused between installs) and packages it with kiln/.

    pip install --no-build-isolation ./python

Environment: KILN_BUILD_DIR (default <repo>/build), KILN_CMAKE_ARGS (extra
configure arguments, e.g. "-DKILN_CUDA=OFF"), KILN_BUILD_JOBS (default: all cores).
"""
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUILD = Path(os.environ.get("KILN_BUILD_DIR", REPO / "build")).resolve()
# setuptools' own outputs go under the CMake build directory, not into the checkout.
PIP_BUILD = BUILD / "python" / "setuptools"
PIP_BUILD.mkdir(parents=True, exist_ok=True)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = BUILD
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        configure = ["cmake", "-S", str(REPO), "-B", str(build), "-DKILN_PYTHON=ON"]
        configure += shlex.split(os.environ.get("KILN_CMAKE_ARGS", ""))
        module_dir = build / "python" / "kiln"
        # A build directory made for another interpreter ABI is pointed at this one.
        if module_dir.is_dir() and not any(module_dir.glob("_kiln" + suffix)) and any(module_dir.glob("_kiln*")):
            configure.append(f"-DPython_EXECUTABLE={sys.executable}")
        elif not (build / "CMakeCache.txt").exists():
            configure.append(f"-DPython_EXECUTABLE={sys.executable}")
        subprocess.check_call(configure)
        jobs = os.environ.get("KILN_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build), "--target", "kiln_python", "-j", jobs])
        built = module_dir / ("_kiln" + suffix)
        if not built.exists():
            raise RuntimeError(f"{built} was not built (does {build} use this Python, {sys.executable}?)")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, dest)


setup(ext_modules=[Extension("kiln._kiln", sources=[])], cmdclass={"build_ext": CMakeBuild},
      options={"build": {"build_base": str(PIP_BUILD / "build")}, "egg_info": {"egg_base": str(PIP_BUILD)}})
