"""deeprnn/blas_core.py: the CPU's own OpenBLAS kernels when the environment pins an older core."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deeprnn import blas_core

AVX512 = set(blas_core.AVX512) | {"avx2", "fma"}


@pytest.mark.parametrize("environ, flags, expected", [
    ({"OPENBLAS_CORETYPE": "Haswell"}, AVX512, "SkylakeX"),  # this team's machines
    ({"OPENBLAS_CORETYPE": "Zen"}, AVX512, "SkylakeX"),
    ({"OPENBLAS_CORETYPE": "Haswell"}, {"avx2", "fma", "avx512f"}, None),  # AVX-512 F alone: not enough
    ({"OPENBLAS_CORETYPE": "Haswell"}, {"avx2", "fma"}, None),  # an AVX2 CPU: Haswell is right
    ({}, AVX512, None),  # unset: OpenBLAS detects the CPU itself
    ({"OPENBLAS_CORETYPE": "SKYLAKEX"}, AVX512, None),  # already AVX-512 (any case)
    ({"OPENBLAS_CORETYPE": "CooperLake"}, AVX512, None),
    ({"OPENBLAS_CORETYPE": "Haswell", "DEEPRNN_KEEP_CORETYPE": "1"}, AVX512, None),  # the user keeps theirs
])
def test_native_choice(environ, flags, expected):
    assert blas_core.native_choice(environ, flags) == expected


def test_nothing_changes_once_numpy_is_loaded():
    environ = {"OPENBLAS_CORETYPE": "Haswell"}
    assert "numpy" in sys.modules  # as in this test process
    assert blas_core.prefer_native_kernels(environ, AVX512) is None
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\nbugs\t\t: none\n")
    assert blas_core.cpu_flags(str(info)) == {"fpu", "avx2", "avx512f"}
    assert blas_core.cpu_flags(str(tmp_path / "missing")) == set()


def _architecture(**env) -> str:
    code = "import deeprnn, threadpoolctl; print(threadpoolctl.threadpool_info()[0].get('architecture'))"
    environ = {k: v for k, v in os.environ.items() if k != "DEEPRNN_KEEP_CORETYPE"}
    environ.update(OPENBLAS_CORETYPE="Haswell", **env)
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(not set(blas_core.AVX512) <= blas_core.cpu_flags(), reason="this CPU has no AVX-512")
def test_importing_deeprnn_first_loads_the_avx512_kernels():
    assert _architecture() == "SkylakeX"
    assert _architecture(DEEPRNN_KEEP_CORETYPE="1") == "Haswell"
