"""cffi build script for ``tss._native`` (the GMP kernels), used by setup.py's ``cffi_modules``.

The cdef is the block between the ``CDEF BEGIN`` and ``CDEF END`` markers of tss_native.h, so the
header is the one description of the C surface. Paths are relative to this file; setuptools runs
the script from the project root, and ``python csrc/build_ffi.py`` builds in place for
development. ``TSS_GMP_INCLUDE_DIR`` and ``TSS_GMP_LIB_DIR`` (os.pathsep-separated) add search
directories for a GMP outside the system paths.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
SOURCES = ["modexp.c", "multiexp.c", "primes.c", "batch.c", "fixedbase.c",
           "lanes.c"]


def _cdef_text() -> str:
    text = (HERE / "tss_native.h").read_text()
    begin = text.index("/* CDEF BEGIN */") + len("/* CDEF BEGIN */")
    end = text.index("/* CDEF END */")
    return text[begin:end]


def _dirs(var: str) -> list[str]:
    return [d for d in os.environ.get(var, "").split(os.pathsep) if d]


def _rel(path: Path) -> str:
    # setuptools runs us from the project root and prefers relative source paths
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


ffi = cffi.FFI()
ffi.cdef(_cdef_text())
ffi.set_source(
    "tss._native",
    '#include "tss_native.h"',
    sources=[_rel(HERE / s) for s in SOURCES],
    # rebuild when these change; setuptools also puts them into an sdist
    depends=[_rel(HERE / f) for f in ("tss_native.h", "tss_internal.h", "build_ffi.py")],
    include_dirs=[_rel(HERE), *_dirs("TSS_GMP_INCLUDE_DIR")],
    library_dirs=_dirs("TSS_GMP_LIB_DIR"),
    libraries=["gmp"] if sys.platform == "win32" else ["gmp", "pthread"],
    extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
)

if __name__ == "__main__":
    # in-place development build (the extension lands in src/tss, temporaries in build/)
    import subprocess

    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=HERE.parent, check=True
    )
