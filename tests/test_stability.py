"""tools/stability.py: the guard that every printed digit survives every numerical path this machine can force."""
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import stability  # noqa: E402

OLD_CELL = ROOT / "tests" / "fixtures" / "stability" / "old_chapter3_cell4.ipynb"


def test_the_guard_catches_chapter_3s_old_four_decimals():
    """Chapter 3 once printed a 600-step Adam loss to four decimals: 0.0100 on the Intel machine that stored it,
    0.0101 on AMD EPYC and under other kernels. The matrix must report that cell."""
    differences, skipped = stability.check([OLD_CELL], list(stability.PATHS), jobs=2)
    assert {d["cell"] for d in differences} == {2}, differences
    assert all("0.010" in d["diff"] for d in differences)


def test_a_notebook_printing_only_stable_digits_passes(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import torch\n"
        "x = torch.linspace(-3, 3, 1001, dtype=torch.float64)\n"
        "print(f'{torch.exp(x).sum().item():.6f} {torch.tanh(x).abs().mean().item():.6f}')\n"
        "print(object())")]
    path = tmp_path / "stable.ipynb"
    nbformat.write(nb, path)
    executed = stability.execute(path, "reference")
    path.write_text(json.dumps(executed))            # store this run's outputs, as make refresh does
    differences, _ = stability.check([path], ["reference", "libm-sse2"], jobs=2)
    assert differences == []                        # the object's address is masked by nbval's sanitize rule


def test_a_print_that_arrives_in_pieces_reads_as_one():
    """A busy kernel flushes one print in several stream outputs; the stored notebook has them merged."""
    pieces = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "loss 0."},
        {"output_type": "stream", "name": "stdout", "text": "01\n"}]}]}
    merged = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "loss 0.01\n"}]}]}
    assert stability.printed(pieces, []) == stability.printed(merged, []) == ["[stdout] loss 0.01\n"]


def test_compare_names_the_cell_and_the_line():
    found = stability.compare(["a\nloss 0.0100\n", "same"], ["a\nloss 0.0101\n", "same"])
    assert [i for i, _ in found] == [0]
    assert "-loss 0.0100" in found[0][1] and "+loss 0.0101" in found[0][1]
    assert stability.compare(["x"], ["x", "y"])[0][1] == "1 code cells stored, 2 executed"


def test_every_path_sets_what_it_claims():
    ref = stability.environment("reference")
    assert (ref["OMP_NUM_THREADS"], ref["ATEN_CPU_CAPABILITY"], ref["MKL_CBWR"]) == ("1", "default", "COMPATIBLE")
    assert "GLIBC_TUNABLES" not in ref
    assert stability.environment("libm-sse2")["GLIBC_TUNABLES"] == "glibc.cpu.hwcaps=-AVX2,-FMA"
    assert "MKL_CBWR" not in stability.environment("avx512-2threads")
    assert not stability.available("avx512-2threads", flags={"avx2", "fma"})
    assert stability.available("avx2-2threads", flags={"avx2", "fma"})


@pytest.mark.parametrize("name", ["exp", "log", "sin"])
def test_the_libm_path_really_changes_libm(name):
    """The libm-sse2 path is worth running only if glibc accepts the tunable: on a CPU with FMA some results
    change (glibc leaves its FMA code); on one without, glibc already runs the portable code and nothing does."""
    import subprocess
    code = (f"import ctypes, math, struct, hashlib\nm = ctypes.CDLL('libm.so.6'); f = m.{name}\n"
            "f.restype = ctypes.c_double; f.argtypes = [ctypes.c_double]\n"
            "import random; r = random.Random(0); xs = [abs(r.uniform(-20, 20)) for _ in range(20000)]\n"
            "print(hashlib.sha1(b''.join(struct.pack('d', f(x)) for x in xs)).hexdigest())")
    runs = {p: subprocess.run([sys.executable, "-c", code], env=stability.environment(p), capture_output=True,
                              text=True, check=True).stdout for p in ("reference", "libm-sse2")}
    assert (runs["reference"] != runs["libm-sse2"]) == ("fma" in stability.cpu_flags())
