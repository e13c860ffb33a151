"""The sandbox every submission runs in: bubblewrap (``bwrap``), with resource limits.

Inside, the student's notebook and its kernel see:

* the system and this repository **read-only** (``--ro-bind / /``); home folders, ``/tmp``, ``/run``
  and the submissions and output folders hidden (the interpreter and the repository are put back);
* one private writable folder, ``/tmp/box`` (the grader's temporary folder for this submission),
  the only way in or out: the grader writes the job and the plan there and reads the results
  after the sandbox has exited;
* **no network** (``--unshare-net``: a loopback interface only, which the kernel uses to talk
  to its runner), and no other IPC, UTS or cgroup namespace of the host;
* its **own PID namespace** (``--unshare-pid``, ``--die-with-parent``): no other process is
  visible, and when the sandbox ends (or the grader kills it) every process in it ends too;
* no capabilities, a new session (no terminal injection), no further user namespaces, a
  cleared environment;
* limits set with ``prlimit``: address space (``--memory``), CPU seconds per process, size of
  any file written, open files, no core dumps; processes (RLIMIT_NPROC) only when the grader
  does not run as root (the kernel exempts root's processes from that limit).

Bubblewrap needs unprivileged user namespaces, or root. :func:`status` says whether it works
here and, if not, why (on Ubuntu 24.04 AppArmor restricts unprivileged user namespaces:
``sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0``, or run as root).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BOX = "/tmp/box"                      # where the private folder appears inside the sandbox
REPO = Path(__file__).resolve().parents[2]

UNPROTECTED = """\
warning: --no-sandbox: submissions run as your own user, with no isolation. A notebook can then
  read and write every file you can (this repository and its checker, the other submissions,
  the output CSV), use the network, leave processes running after the grader exits, and use
  unlimited memory and disk. The verdicts are still computed outside the student's kernel, from
  plain data, but a hostile notebook can change what later submissions see. Use it only for
  notebooks you trust, or on a throw-away machine."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 6 << 30       # address space per process (torch maps a lot of virtual memory)
    cpu_seconds: int = 1200           # CPU time per process (the kernel)
    file_bytes: int = 256 << 20       # largest file a process may write
    open_files: int = 1024
    processes: int = 512              # RLIMIT_NPROC, only applied when not root


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def install_bwrap(quiet: bool = True) -> bool:
    """Install Debian's ``bubblewrap`` with apt-get when running as root or with password-less sudo."""
    if bwrap_path():
        return True
    if not shutil.which("apt-get"):
        return False
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if prefix and (not shutil.which("sudo") or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode):
        return False
    out = subprocess.DEVNULL if quiet else None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "bubblewrap"],
                   stdout=out, stderr=out, env=env)
    if not bwrap_path():
        subprocess.run([*prefix, "apt-get", "update", "-qq"], stdout=out, stderr=out, env=env)
        subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "bubblewrap"],
                       stdout=out, stderr=out, env=env)
    return bwrap_path() is not None


def _python_roots() -> list:
    """Folders the interpreter, its standard library and the virtual environment live in."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent,
             REPO}
    return sorted(roots)


def _hidden_tops() -> list:
    return [p for p in ("/home", "/root", "/run", "/var/tmp", "/mnt", "/media", "/srv") if os.path.isdir(p)]


def command(box: Path, argv: list, *, limits: Limits = Limits(), hide=(), env: dict | None = None) -> list:
    """The ``bwrap`` command line that runs ``argv`` inside the sandbox, with ``box`` as ``/tmp/box``."""
    args = [bwrap_path() or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    tops = _hidden_tops()
    for top in tops:
        args += ["--tmpfs", top]
    emptied = tops + ["/tmp", "/dev/shm"]  # a repository or venv in one of these (a clone in /tmp) is put back
    for root in _python_roots():
        if any(str(root) == t or str(root).startswith(t + "/") for t in emptied):
            args += ["--ro-bind", str(root), str(root)]
    for path in hide:
        path = Path(path).resolve()
        if path.is_dir() and not any(r == path or path in r.parents for r in _python_roots()):
            args += ["--tmpfs", str(path)]
        elif path.is_file():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--bind", str(box), BOX, "--chdir", f"{BOX}/work",
             "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
             "--cap-drop", "ALL", "--hostname", "sandbox", "--clearenv"]
    for key, value in (env or sandbox_env()).items():
        args += ["--setenv", key, value]
    rlimits = [f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}", f"--fsize={limits.file_bytes}",
               f"--nofile={limits.open_files}", "--core=0"]
    if os.geteuid() != 0:
        rlimits.append(f"--nproc={limits.processes}")
    return args + ["--", shutil.which("prlimit") or "prlimit", *rlimits, "--", *argv]


def sandbox_env(box: str = BOX) -> dict:
    """The whole environment of the sandboxed processes (nothing else of the grader's is passed)."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": f"{box}/home", "LANG": "C.UTF-8",
        "MPLCONFIGDIR": f"{box}/mpl", "MPLBACKEND": "Agg", "IPYTHONDIR": f"{box}/ipython",
        "JUPYTER_RUNTIME_DIR": f"{box}/run", "JUPYTER_CONFIG_DIR": f"{box}/jupyter", "XDG_CACHE_HOME": f"{box}/cache",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
    }


def prepare_box(box: Path) -> None:
    """The private folder's layout: work/ (the kernel's working folder), out/ (results), and writable homes."""
    for sub in ("work", "out", "home", "mpl", "ipython", "run", "jupyter", "cache"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    cache = _matplotlib_cache()
    if cache:
        for f in cache.glob("fontlist-*.json"):
            shutil.copy(f, box / "mpl" / f.name)


_MPL_CACHE = None


def _matplotlib_cache() -> Path | None:
    """A matplotlib font cache built once per grading run (building it costs a second per notebook otherwise)."""
    global _MPL_CACHE
    if _MPL_CACHE is None:
        import tempfile
        folder = Path(tempfile.mkdtemp(prefix="course-grade-mpl-"))
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env={**os.environ,
                       "MPLCONFIGDIR": str(folder)}, capture_output=True, timeout=120)
        _MPL_CACHE = folder
    return _MPL_CACHE


_STATUS = None


def status() -> tuple:
    """``(True, "")`` if a sandbox can be started here, else ``(False, why)``."""
    global _STATUS
    if _STATUS is not None:
        return _STATUS
    if not bwrap_path():
        _STATUS = (False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        return _STATUS
    import tempfile
    with tempfile.TemporaryDirectory(prefix="course-grade-probe-") as tmp:
        box = Path(tmp)
        (box / "work").mkdir()
        proc = subprocess.run(command(box, ["/bin/sh", "-c", f"echo ok > {BOX}/work/ok"]), capture_output=True,
                              text=True, timeout=60)
        works = proc.returncode == 0 and (box / "work" / "ok").exists()
    if works:
        _STATUS = (True, "")
    else:
        why = " ".join((proc.stderr or proc.stdout).split())[:300]
        hint = ""
        if "ermission" in why or "Operation not permitted" in why or "setting up uid map" in why:
            hint = (" (unprivileged user namespaces are blocked here; on Ubuntu 24.04: "
                    "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run the grader as root)")
        _STATUS = (False, f"bwrap cannot start a sandbox: {why}{hint}")
    return _STATUS


def run(argv: list, box: Path, *, timeout: float, sandboxed: bool = True, limits: Limits = Limits(),
        hide=(), log: Path | None = None) -> dict:
    """Run ``argv`` in the sandbox (or, with ``sandboxed=False``, as a plain subprocess); wait at most ``timeout`` s.

    Returns ``{"returncode", "killed", "wall_s"}``. On time-out the whole sandbox is killed (its PID
    namespace goes with it). Output goes to ``log`` (a file outside the box), never to the grader's terminal.
    """
    env = sandbox_env(BOX if sandboxed else str(box))
    if sandboxed:
        cmd = command(box, argv, limits=limits, hide=hide, env=env)
        cwd = None
    else:
        cmd = [a.replace(BOX, str(box)) for a in argv]
        cwd = str(box / "work")
    out = open(log, "wb") if log else subprocess.DEVNULL
    started = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env if not sandboxed else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                start_new_session=True)
        killed = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            _kill_group(proc)
            proc.wait()
        if not sandboxed:
            _kill_group(proc)  # without a PID namespace, take down whatever the notebook left in its session
    finally:
        if log:
            out.close()
    return {"returncode": proc.returncode, "killed": killed, "wall_s": time.monotonic() - started}


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
