"""Re-execute book notebooks in place: fresh kernel, top to bottom, outputs stored.

    python tools/refresh_notebooks.py                 # every notebook in book/
    python tools/refresh_notebooks.py book/03_*.ipynb # only these

Before executing, the first cell of each notebook is set to the Colab set-up
cell generated from ``_config.yml`` (repository url and branch), so a fork
retargets every notebook by editing one line and running ``make refresh``.
A notebook that fails to execute is left untouched on disk.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
COLAB_TAG = "colab-setup"
# The numerical environment of every execution (the Makefile exports the same): one thread, ATen's portable kernels,
# MKL's processor-independent path. Printed digits must also survive the other paths (make stability).
NUMERICS_ENV = {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}


def repository(config_path: Path = ROOT / "_config.yml"):
    """(owner/repo url, branch) from _config.yml's ``repository`` section."""
    repo = yaml.safe_load(config_path.read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def colab_cell_source(config_path: Path = ROOT / "_config.yml") -> str:
    url, branch = repository(config_path)
    return (
        "# Colab set-up: on Google Colab, install course_pkg from the book's repository\n"
        "# (reusing Colab's torch and matplotlib). Elsewhere this cell does nothing.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import subprocess\n"
        f"    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"git+{url}@{branch}\"], check=True)"
    )


def with_colab_cell(nb, source: str):
    first = nb.cells[0] if nb.cells else None
    if first is not None and COLAB_TAG in first.get("metadata", {}).get("tags", []):
        first.source = source
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = [COLAB_TAG, "remove-cell"]
        nb.cells.insert(0, cell)
    return nb


def add_image_alt_text(nb):
    """Copy each figure's text description (CourseFigure.describe) into the cell's image alt text."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        alts = [out["data"]["text/plain"] for out in cell.get("outputs", [])
                if "image/png" in out.get("data", {}) and "text/plain" in out["data"]]
        image = cell.metadata.setdefault("mystnb", {}).setdefault("image", {}) if alts else None
        if alts:
            image["alt"] = " ".join(alts)
        elif "mystnb" in cell.metadata:
            cell.metadata["mystnb"].pop("image", None)
            if not cell.metadata["mystnb"]:
                del cell.metadata["mystnb"]
    return nb


def merge_streams(nb):
    """Join consecutive stdout (or stderr) outputs of a cell into one: on a busy machine the kernel flushes a
    print in pieces, and the stored notebook should not depend on the machine's load."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1]["text"] = "".join(merged[-1]["text"]) + "".join(out["text"])
            else:
                merged.append(out)
        cell.outputs = merged
    return nb


def execute(path: Path, timeout: int = 300):
    nb = nbformat.read(path, as_version=4)
    with_colab_cell(nb, colab_cell_source())
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    add_image_alt_text(nb)
    merge_streams(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    args = ap.parse_args(argv)
    os.environ.update(NUMERICS_ENV)   # inherited by every kernel started below
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    failed = []
    for path in paths:
        try:
            print(f"{path.name}: {execute(path):.1f} s", flush=True)
        except nbclient.exceptions.CellExecutionError as err:
            failed.append(path)
            print(f"{path.name}: FAILED\n{err}", file=sys.stderr)
    if failed:
        sys.exit(f"{len(failed)} notebook(s) failed: {', '.join(p.name for p in failed)}")


if __name__ == "__main__":
    main()
