"""The regression data of chapters 3 and 4 is the same on every numerical path: pinned hashes, checked in this
process and in subprocesses that force other ATen CPU kernels and glibc's other libm variant."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_pkg import data

ROOT = Path(__file__).resolve().parents[1]

# (maker, keyword arguments) -> sha256 prefix of x's bytes + y's bytes, float32 as stored on the CPU
PINNED = {
    "make_regression(n=200, noise=0.1, seed=0)": "4cefc786f0ce2560",
    "make_bounded_regression(n=300, seed=1)": "e0936109477cca54",
    "make_positive_regression(n=256, seed=0)": "9f507ba2c26e2a60",
    "make_lognormal_regression(n=512, seed=0)": "7f75812566312203",
    "make_lognormal_regression(n=512, seed=1)": "b85899b92eee8597",
}

HASHER = """
import hashlib, json
from course_pkg import data
out = {}
for call in CALLS:
    x, y = eval("data." + call)
    assert x.dtype == y.dtype
    out[call] = hashlib.sha256(x.contiguous().numpy().tobytes() + y.contiguous().numpy().tobytes()).hexdigest()[:16]
print(json.dumps(out))
"""


def _hashes(env=None):
    code = "CALLS = " + repr(list(PINNED)) + "\n" + HASHER
    if env is None:
        scope = {}
        exec(code.replace("print(json.dumps(out))", "RESULT = out"), scope)
        return scope["RESULT"]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_regression_data_matches_its_pinned_hashes():
    assert _hashes() == PINNED


# Each environment forces another numerical path: ATen's portable kernels, its AVX2 / AVX-512 kernels (where the
# CPU has them), and glibc's libm variant for CPUs without AVX2 and FMA (exp, log, sin differ in the last bit).
PATHS = {
    "default": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "2"},
    "libm without AVX2/FMA": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1",
                              "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA"},
}


@pytest.mark.parametrize("path", PATHS)
def test_regression_data_is_the_same_on_every_numerical_path(path):
    assert _hashes(PATHS[path]) == PINNED


def test_float32_randn_is_what_differs_between_kernels():
    # Why the makers draw in float64: float32 randn on 16 or more numbers goes through a vectorized kernel (AVX2 and
    # up) that rounds differently; the float64 draws are the same code everywhere.
    code = ("import torch, hashlib; g = torch.Generator().manual_seed(0); "
            "print(hashlib.sha256(torch.randn(64, generator=g).numpy().tobytes()).hexdigest())")
    runs = {}
    for path in ("default", "avx2"):
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **PATHS[path]},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        runs[path] = done.stdout
    x, y = data.make_regression(64, seed=0)
    assert x.dtype == y.dtype == torch.float32
    if "AVX2" in torch.backends.cpu.get_cpu_capability() or "AVX512" in torch.backends.cpu.get_cpu_capability():
        assert runs["default"] != runs["avx2"]
