"""pytest plugin: keep what nbval's own run of each notebook printed, as an executed notebook the site can show.

    python -m pytest -p tests.nbval_record --nbval-record _build/nbval --nbval ... book

``make test`` runs nbval (every chapter in a fresh kernel, every output compared
with the stored one) and then builds the site. Executing every chapter a second
time only to build the site would repeat the same work, so this plugin keeps
nbval's run: it listens to the kernel messages nbval reads for each cell and
turns them into the cell's outputs with nbclient's own message handling (the
code that executes notebooks for jupyter-book), in the order the kernel sent
them. A notebook is written to the record folder only if every one of its code
cells ran and passed under nbval; ``tools/execute_book.py --from-record``
then moves the notebooks into the site's execution cache if they were recorded
from the current sources, and otherwise executes them itself. The stored
notebooks in ``book/`` are never touched.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--nbval-record", metavar="DIR", default=None,
                     help="write each notebook nbval ran completely and without failure, with that run's "
                          "outputs, to DIR (for the site build: tools/execute_book.py --from-record DIR)")


def pytest_configure(config):
    folder = config.getoption("--nbval-record")
    if not folder:
        return
    folder = Path(folder)
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist): start an empty record
        sys.path.insert(0, str(ROOT / "tools"))
        import execute_book
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        # What the record is made from; the import refuses it if anything changed before the site is built.
        # nbval's kernels inherit this process's environment: record the numerical part as it really is.
        environment = {k: os.environ.get(k) for k in execute_book.NUMERICS_ENV}
        (folder / "fingerprint.json").write_text(json.dumps({"digests": execute_book.digests(),
                                                             "environment": environment}))
    config.pluginmanager.register(Recorder(folder), "nbval-recorder")


class Notebook:
    """One notebook as nbval runs it: a copy of the stored notebook whose code cells get this run's outputs."""

    def __init__(self, path: Path):
        from nbclient import NotebookClient

        self.path = path
        self.nb = nbformat.read(path, as_version=4)
        self.code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        # Never started: only its message handling is used, set as jupyter-cache's execution sets it.
        self.client = NotebookClient(self.nb, record_timing=False)
        self.done: set[int] = set()
        self.failed = False
        self.start = time.perf_counter()

    def add(self, cell_num: int, msg_id: str | None, messages: list[dict], passed: bool):
        from nbclient.exceptions import CellExecutionComplete

        index = self.code_cells[cell_num]
        cell = self.nb.cells[index]
        cell.outputs = []  # as NotebookClient.async_execute_cell starts each cell
        self.client.clear_before_next_output = False
        complete = False
        for msg in messages:
            if msg_id is None or msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            try:
                self.client.process_message(msg, cell, index)
            except CellExecutionComplete:
                complete = True
                break
        if passed and complete:
            self.done.add(cell_num)
        else:
            self.failed = True

    def write(self, folder: Path):
        target = folder / self.path.name
        if self.failed or len(self.done) != len(self.code_cells):
            target.unlink(missing_ok=True)
            return
        nbformat.write(self.nb, target)
        (folder / f"{self.path.stem}.json").write_text(json.dumps({"seconds": time.perf_counter() - self.start}))


class Recorder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.notebooks: dict[str, Notebook] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from nbval.plugin import IPyNbCell

        if not isinstance(item, IPyNbCell):
            yield
            return
        parent = item.parent
        notebook = self.notebooks.setdefault(parent.nodeid, Notebook(Path(str(parent.fspath))))
        kernel, ids, messages = parent.kernel, [], []
        execute, receive = kernel.execute_cell_input, parent.get_kernel_message

        def recording_execute(*args, **kwargs):
            ids.append(execute(*args, **kwargs))
            return ids[-1]

        def recording_receive(*args, **kwargs):
            messages.append(receive(*args, **kwargs))
            return messages[-1]

        kernel.execute_cell_input, parent.get_kernel_message = recording_execute, recording_receive
        try:
            outcome = yield
        finally:
            del kernel.execute_cell_input, parent.get_kernel_message  # back to the class's methods
        try:
            notebook.add(item.cell_num, ids[0] if len(ids) == 1 else None, messages, passed=outcome.excinfo is None)
        except Exception as err:  # noqa: BLE001  (the record is a by-product: it never fails nbval's check)
            notebook.failed = True
            item.warn(pytest.PytestWarning(f"nbval_record: cell {item.cell_num} not recorded: {err!r}"))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item, nextitem):
        notebook = self.notebooks.get(getattr(item.parent, "nodeid", None))
        if notebook is not None and (nextitem is None or nextitem.parent is not item.parent):
            notebook.write(self.folder)
            del self.notebooks[item.parent.nodeid]

    def pytest_runtest_logreport(self, report):
        # A cell that failed in setup (e.g. its kernel did not start) never reaches pytest_runtest_call.
        if report.failed or report.skipped:
            for nodeid, notebook in self.notebooks.items():
                if report.nodeid.startswith(nodeid + "::"):
                    notebook.failed = True
