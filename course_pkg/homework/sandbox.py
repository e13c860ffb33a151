"""The sandbox every submission runs in: bubblewrap (``bwrap``), with resource limits.

Inside, the runner (:mod:`course_pkg.homework.runner`) and the answers it defines see:

* the system and this repository **read-only** (``--ro-bind / /``); home folders, ``/run``, ``/var/tmp``
  and the submissions and output folders hidden (the interpreter and the repository are put back);
* **no writable folder of the host**: ``/tmp`` and ``/dev/shm`` are in-memory folders of their own,
  sized so that together they hold at most a quarter of the memory limit (:func:`tmpfs_bytes`), and
  vanish with the sandbox. The only way in or out is the pair of pipes the grader holds (stdin, stdout);
* **an unprivileged user**: when the grader runs as root, the sandbox is made without a user namespace
  and ``setpriv`` runs the command as ``nobody`` with no capabilities, so root-only files (``/etc/shadow``)
  are unreadable; otherwise bubblewrap maps the caller's own uid and drops every capability;
* **no network** (``--unshare-net``), no IPC, UTS or cgroup namespace of the host;
* its **own PID namespace** (``--unshare-pid``, ``--die-with-parent``): no other process is
  visible, and when the sandbox ends (or the grader kills it) every process in it ends too;
* a new session (no terminal injection), a cleared environment;
* limits set with ``prlimit``: address space (three quarters of ``--memory``), CPU seconds per process,
  size of any file written, open files, processes, no core dumps.

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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

UNPROTECTED = """\
warning: --no-sandbox: submissions run as your own user, with no isolation. A notebook can then
  read and write every file you can (this repository and its checker, the other submissions,
  the output CSV), use the network, leave processes running after the grader exits, and use
  unlimited memory and disk. Only the answers' definitions run and the grader still judges their
  outputs, but a hostile notebook can change what later submissions see. Use it only for
  notebooks you trust, or on a throw-away machine."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 6 << 30       # 3/4: address space per process; 1/4: the in-memory /tmp and /dev/shm
    cpu_seconds: int = 1200           # CPU time per process
    file_bytes: int = 256 << 20       # largest file a process may write
    open_files: int = 1024
    processes: int = 512              # RLIMIT_NPROC (as root: nobody's processes)


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


DROP_UID = 65534                      # "nobody": the uid the sandboxed code runs as when the grader is root


def _dirs_for(root: Path, top: str) -> list:
    """``--dir`` arguments (mode 0755) for the folders between an emptied ``top`` and ``root``."""
    args, path = [], Path(top)
    for part in root.relative_to(top).parts[:-1]:
        path = path / part
        args += ["--perms", "0755", "--dir", str(path)]
    return args


def tmpfs_bytes(limits: "Limits") -> dict:
    """Size of each writable in-memory folder: together a quarter of ``limits.memory_bytes``.

    Files written there live in RAM, so they count against the memory limit: ``/tmp`` gets 3/16
    of it and ``/dev/shm`` 1/16; the processes' address space gets the other three quarters.
    """
    return {"/tmp": max(limits.memory_bytes * 3 // 16, 16 << 20), "/dev/shm": max(limits.memory_bytes // 16, 4 << 20)}


def command(argv: list, *, limits: Limits = Limits(), hide=(), env: dict | None = None) -> list:
    """The ``bwrap`` command line that runs ``argv`` inside the sandbox.

    Nothing of the host is writable: ``/tmp`` and ``/dev/shm`` are in-memory folders bounded by
    :func:`tmpfs_bytes`, every other top folder a user could write to is an empty read-only one. As
    root, the sandbox is started without a user namespace and ``setpriv`` runs ``argv`` as ``nobody``
    with no capabilities (root-only files stay unreadable); otherwise bubblewrap maps the caller's uid.
    """
    root = os.geteuid() == 0
    sizes = tmpfs_bytes(limits)
    args = [bwrap_path() or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "01777", "--size", str(sizes["/tmp"]), "--tmpfs", "/tmp",
            "--perms", "01777", "--size", str(sizes["/dev/shm"]), "--tmpfs", "/dev/shm"]
    tops = _hidden_tops()
    for top in tops:
        args += ["--perms", "0755", "--size", str(1 << 20), "--tmpfs", top]
    emptied = tops + ["/tmp", "/dev/shm"]  # a repository or venv in one of these (a clone in /tmp) is put back
    for root_dir in _python_roots():
        top = next((t for t in emptied if str(root_dir) == t or str(root_dir).startswith(t + "/")), None)
        if top is not None and str(root_dir) != top:
            args += _dirs_for(root_dir, top) + ["--ro-bind", str(root_dir), str(root_dir)]
    for path in hide:
        path = Path(path).resolve()
        if path.is_dir() and not any(r == path or path in r.parents for r in _python_roots()):
            args += ["--perms", "0755", "--size", "4096", "--tmpfs", str(path), "--remount-ro", str(path)]
        elif path.is_file():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--chdir", "/tmp", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    if not root:
        args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    for key, value in (env or sandbox_env()).items():
        args += ["--setenv", key, value]
    rlimits = [f"--as={limits.memory_bytes - sum(sizes.values())}", f"--cpu={limits.cpu_seconds}",
               f"--fsize={limits.file_bytes}", f"--nofile={limits.open_files}", "--core=0",
               f"--nproc={limits.processes}"]
    drop = []
    if root:  # RLIMIT_NPROC counts nobody's processes, so it applies here too
        drop = [shutil.which("setpriv") or "setpriv", f"--reuid={DROP_UID}", f"--regid={DROP_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return args + ["--", *drop, shutil.which("prlimit") or "prlimit", *rlimits, "--", *argv]


def sandbox_env() -> dict:
    """The whole environment of the sandboxed processes (nothing else of the grader's is passed)."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/home", "LANG": "C.UTF-8",
        "MPLCONFIGDIR": "/tmp/mpl", "MPLBACKEND": "Agg", "XDG_CACHE_HOME": "/tmp/cache",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
    }


_STATUS = None


def status() -> tuple:
    """``(True, "")`` if a sandbox can be started here, else ``(False, why)``."""
    global _STATUS
    if _STATUS is not None:
        return _STATUS
    if not bwrap_path():
        _STATUS = (False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        return _STATUS
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        _STATUS = (False, "setpriv (util-linux) is missing: the sandbox cannot drop root's privileges")
        return _STATUS
    proc = subprocess.run(command(["/bin/sh", "-c", "echo ok"]), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode == 0 and proc.stdout.strip() == "ok":
        _STATUS = (True, "")
    else:
        why = " ".join((proc.stderr or proc.stdout).split())[:300]
        hint = ""
        if "ermission" in why or "Operation not permitted" in why or "setting up uid map" in why:
            hint = (" (unprivileged user namespaces are blocked here; on Ubuntu 24.04: "
                    "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run the grader as root)")
        _STATUS = (False, f"bwrap cannot start a sandbox: {why}{hint}")
    return _STATUS


def start(argv: list, *, sandboxed: bool = True, limits: Limits = Limits(), hide=()) -> subprocess.Popen:
    """Start ``argv`` in the sandbox (or, with ``sandboxed=False``, as a plain subprocess in a new session).

    Its stdin and stdout are pipes owned by the caller (the only way in or out); its stderr goes to an
    unlinked temporary file (``proc.stderr_file``). Use :func:`stop` to end it and everything it started.
    """
    env = sandbox_env()
    cmd = command(argv, limits=limits, hide=hide, env=env) if sandboxed else argv
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd="/",
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")} if sandboxed else
                            {**env, "HOME": tempfile.gettempdir()}, start_new_session=True)
    proc.stderr_file = err
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole session (the sandbox's PID namespace goes with it) and reap it."""
    _kill_group(proc)
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except Exception:
            pass
    proc.wait()
    try:
        proc.stderr_file.close()
    except Exception:
        pass


def run(argv: list, *, timeout: float, sandboxed: bool = True, limits: Limits = Limits(), hide=(),
        input: bytes = b"", max_output: int = 1 << 20) -> dict:
    """Run ``argv`` in the sandbox with ``input`` on its stdin; wait at most ``timeout`` s.

    Returns ``{"returncode", "killed", "wall_s", "stdout"}`` (at most ``max_output`` bytes of stdout
    and stderr together). On time-out the whole sandbox is killed (its PID namespace goes with it).
    """
    started = time.monotonic()
    proc = start(argv, sandboxed=sandboxed, limits=limits, hide=hide)
    killed = False
    try:
        try:
            out, _ = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            out = b""
    finally:
        _kill_group(proc)
        proc.wait()
        proc.stderr_file.seek(0)
        err = proc.stderr_file.read(max_output)
        proc.stderr_file.close()
    return {"returncode": proc.returncode, "killed": killed, "wall_s": time.monotonic() - started,
            "stdout": (out[:max_output] + err[:max_output]).decode("utf-8", "replace")}


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
