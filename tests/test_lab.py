"""`make lab`: from a clone to the student notebooks open in JupyterLab, never overwriting a learner's work."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lab  # noqa: E402


def test_prepare_copies_new_notebooks_and_keeps_the_learners(tmp_path):
    work = tmp_path / "work"
    copied, kept = lab.prepare(work=work)
    names = sorted(p.name for p in (ROOT / "student").glob("*.ipynb"))
    assert sorted(p.name for p in copied) == names and kept == []
    mine = work / names[2]
    mine.write_text("my answers")
    (work / names[0]).unlink()                     # a chapter the learner deleted comes back
    copied, kept = lab.prepare(work=work)
    assert [p.name for p in copied] == [names[0]]
    assert mine in kept and mine.read_text() == "my answers"


def test_prepare_only_copies_and_says_where_to_start(tmp_path, capsys):
    assert lab.main(["--work", str(tmp_path / "work"), "--prepare-only"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "work" / "03_regression.ipynb").exists()
    assert "Start with 00_pytorch_essentials.ipynb if PyTorch is new to you" in out
    assert "otherwise with 01_why_transform_outputs.ipynb" in out and "Ctrl-C" in out


def test_start_hint_without_a_primer(tmp_path):
    (tmp_path / "01_a.ipynb").write_text("{}")
    assert lab.start_hint(tmp_path).startswith("Start with 01_a.ipynb;")


def test_prepare_refuses_a_file_where_the_folder_goes(tmp_path):
    (tmp_path / "work").write_text("")
    with pytest.raises(NotADirectoryError, match="work must be a folder"):
        lab.prepare(work=tmp_path / "work")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_serves_the_student_notebooks(tmp_path):
    """The command `make lab` runs, headless: JupyterLab starts and lists and opens the copied notebooks."""
    port, token = _free_port(), "course-test-token"
    work = tmp_path / "work"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "lab.py"), "--work", str(work), "--",
                             "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                             f"--IdentityProvider.token={token}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"JupyterLab did not start:\n{proc.stdout.read() if proc.poll() is not None else ''}")
                time.sleep(0.5)
        assert "JupyterLab" in page
        req = urllib.request.Request(f"{base}/api/contents/03_regression.ipynb",
                                     headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            model = json.load(r)
        assert model["type"] == "notebook" and model["content"]["cells"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
