"""Colab-like compatibility run: every chapter and student notebook in a fresh Python 3.12 environment.

    python3 tools/compat.py                      # config "newest": Colab's torch, newest numpy and matplotlib
    python3 tools/compat.py --config oldest      # torch, numpy, matplotlib pinned to pyproject's lower bounds
    python3 tools/compat.py --config try --pins "torch==2.3.1 numpy==1.26.4"   # any other combination

(`make compat` / `make compat COMPAT=oldest` run the same.) Steps:

1. Create a virtual environment with Python 3.12 (Colab's) in ``_build/compat/<config>/venv``, apart from the
   book's ``.venv``, and install what Colab already has: torch (and, for "oldest", the pinned numpy and
   matplotlib) plus nbclient and ipykernel to run notebooks.
2. Install ``course_pkg`` exactly the way each notebook's Colab set-up cell does: the cell's own
   ``pip install -q git+<repository>@<branch>`` arguments, with the repository replaced by this checkout's git
   repository (``git+file://<root>@<commit of HEAD>``; ``--repo-url`` names another, e.g. the GitHub one in CI).
   pip clones the repository and builds the committed code, as it does from GitHub; unlike Colab, the commit is
   HEAD rather than the tip of the configured branch, and uncommitted changes are not installed (the report
   says when there are some). Dependencies are unpinned, so pip brings the newest numpy and matplotlib that
   pyproject.toml allows, unless they are already installed.
3. Run every ``book/*.ipynb`` and ``student/*.ipynb`` (from the same commit) in a fresh kernel of that
   environment, from a scratch folder, so that ``import course_pkg`` finds the installed package and never the
   working tree. The project's numerical environment (OMP_NUM_THREADS, ATEN_CPU_CAPABILITY, MKL_CBWR) is removed:
   Colab sets none of it, and measuring what that changes is the point of the run.
4. Compare and report. Chapters: the text outputs of each code cell against the stored ones, with nbval's rules
   (streams merged by name, images not compared, tests/nbval_sanitize.cfg applied), and every check verdict must
   be [PASSED]. Student notebooks (stored without outputs): no error, and one [NOT ATTEMPTED] per check call.
   The report (markdown) goes to ``_build/compat/<config>/report.md`` and to stdout.

Exit status: 1 when anything failed to install, a cell raised, or a verdict is wrong. A printed value that
differs from the stored one is reported and counted but does not fail the run (``--strict`` makes it fail):
the stored outputs are made in the project's portable numerical environment, and native numerics, another
torch or another numpy change late digits of trained models; the book prints only stable digits, so a
difference is worth reading, not a defect in itself.

The comparison functions at the top need only the standard library (tests/test_compat.py runs them on small
synthetic notebooks); ``execute`` runs inside the compat environment and imports nbclient there.
"""
from __future__ import annotations

import argparse
import ast
import configparser
import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_TAG = "colab-setup"
# Set by the Makefile and tools/refresh_notebooks.py for the stored outputs; Colab sets none of them.
NUMERICS_VARS = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "MKL_CBWR")
# The packages Colab preinstalls that course_pkg depends on, and whose oldest allowed versions are tested.
PINNED = ("torch", "numpy", "matplotlib")
RUNNER = ("nbclient", "ipykernel")   # what runs the notebooks (Colab has its own Jupyter)
# nbval's skip list (nbval/plugin.py, IPyNbFile.skip_compare, without --nbdime): keys never compared.
SKIP_COMPARE = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
VERDICT = re.compile(r"^\[([A-Z ]+)\] ([\w.]+)(.*)$", re.M)   # status, exercise, the feedback
CHECK_CALL = re.compile(r"""^\s*check\(\s*["']([\w.]+)["']""", re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")   # nan and inf stay words: text differs


# ----------------------------------------------------------------------------- comparison (standard library only)

def source(cell) -> str:
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def sanitize_patterns(cfg: Path = ROOT / "tests" / "nbval_sanitize.cfg"):
    """(regex, replacement) pairs of an nbval sanitize file, read the way nbval reads them."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", cfg.read_text(), flags=re.MULTILINE)


def sanitize(s, patterns):
    if not isinstance(s, str):
        return s
    for regex, replace in patterns:
        s = re.sub(regex, replace, s)
    return s


def _cancel_carriage_returns(s: str) -> str:
    """nbval's handling of progress bars: a line up to a carriage return not followed by a newline is removed.
    (nbval's backspace rule sits in a loop that never runs, so backspaces are kept, here too.)"""
    return re.sub(r"^.*\r(?=[^\n])", "", s, flags=re.M)


def comparable(outputs, patterns):
    """A cell's outputs as nbval compares them: key -> list of sanitized values. Streams are merged by name
    (``stdout``, ``stderr``); ``data`` is flattened into its mime types; images and metadata are skipped."""
    streams, flat = {}, defaultdict(list)
    for out in outputs:
        if out.get("output_type") == "stream":
            streams[out.get("name", "stdout")] = streams.get(out.get("name", "stdout"), "") + text(out.get("text", ""))
            continue
        for key, value in out.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_COMPARE:
                        flat[mime].append(sanitize(text(data) if isinstance(data, list) else data, patterns))
            else:
                flat[key].append(sanitize(value if not isinstance(value, list) else text(value), patterns))
    for name, value in streams.items():
        flat[name].append(sanitize(_cancel_carriage_returns(value), patterns))
    return dict(flat)


def numeric_delta(ref: str, new: str):
    """How two texts differ when only their numbers do: (values that differ, max absolute difference, max relative
    difference). None when the words around the numbers differ too."""
    if NUMBER.split(ref) != NUMBER.split(new):
        return None
    a, b = NUMBER.findall(ref), NUMBER.findall(new)
    pairs = [(float(x), float(y)) for x, y in zip(a, b) if x != y]
    if not pairs:
        return (0, 0.0, 0.0)
    absolute = max(abs(x - y) for x, y in pairs)
    relative = max(abs(x - y) / max(abs(x), abs(y)) for x, y in pairs)
    return (len(pairs), absolute, relative)


def short_diff(ref: str, new: str, limit: int = 12) -> str:
    lines = list(difflib.unified_diff(ref.splitlines(), new.splitlines(), "stored", "this run", n=0, lineterm=""))[2:]
    lines = [line for line in lines if not line.startswith("@@")]
    return "\n".join(lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else []))


def error_outputs(nb):
    """(cell index, 'Name: message', last traceback lines) for every error output of a notebook."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.get("traceback", []))
                found.append((index, f"{out.get('ename')}: {out.get('evalue')}", "\n".join(tb.splitlines()[-8:])))
    return found


def verdicts(nb):
    found = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                found += VERDICT.findall(text(out.get("text", "")))
    return found


def compare_chapter(stored, executed, patterns):
    """Check an executed chapter against its stored version.

    Returns {"errors": [...], "diffs": [...]}: errors are cells that raised and check verdicts other than PASSED;
    each diff is {"cell", "key", "diff", "delta"} for a cell whose compared outputs differ (delta as numeric_delta,
    None when the text itself changed)."""
    errors = [f"cell {i}: {msg}\n{tb}" for i, msg, tb in error_outputs(executed)]
    errors += [f"check {name}: [{status}], expected [PASSED]{rest}" for status, name, rest in verdicts(executed)
               if status != "PASSED"]
    diffs = []
    old_cells, new_cells = stored.get("cells", []), executed.get("cells", [])
    if [source(c) for c in old_cells] != [source(c) for c in new_cells]:
        errors.append("the executed notebook's cells are not those of the stored notebook")
        return {"errors": errors, "diffs": diffs}
    for index, (old, new) in enumerate(zip(old_cells, new_cells)):
        if old.get("cell_type") != "code" or old.get("execution_count") is None:
            continue   # nbval compares only cells the stored notebook ran
        ref, got = comparable(old.get("outputs", []), patterns), comparable(new.get("outputs", []), patterns)
        for key in sorted(set(ref) | set(got)):
            a, b = ref.get(key, []), got.get(key, [])
            if a == b:
                continue
            a_text = "\n".join(map(str, a)) if key in ref else ""
            b_text = "\n".join(map(str, b)) if key in got else ""
            delta = numeric_delta(a_text, b_text) if len(a) == len(b) else None
            label = key if key in ref and key in got else f"{key} ({'missing' if key in ref else 'new'} in this run)"
            diffs.append({"cell": index, "key": label, "diff": short_diff(a_text, b_text), "delta": delta})
    return {"errors": errors, "diffs": diffs}


def check_student(executed):
    """A student notebook, run as handed out: no cell raises, and each check call prints [NOT ATTEMPTED]."""
    errors = [f"cell {i}: {msg}\n{tb}" for i, msg, tb in error_outputs(executed)]
    expected = Counter(name for cell in executed.get("cells", []) if cell.get("cell_type") == "code"
                       for name in CHECK_CALL.findall(source(cell)))
    found = verdicts(executed)
    got = Counter(name for _, name, _ in found)
    if got != expected:
        errors.append(f"check verdicts {dict(sorted(got.items()))}, expected one per check call "
                      f"{dict(sorted(expected.items()))}")
    errors += [f"check {name}: [{status}], expected [NOT ATTEMPTED]{rest}" for status, name, rest in found
               if status != "NOT ATTEMPTED"]
    return {"errors": errors, "diffs": [], "checks": sum(expected.values())}


def colab_pip_args(nb) -> list[str]:
    """The pip arguments of a notebook's Colab set-up cell (cell 0, tag colab-setup): the list literal passed to
    subprocess.run, without ``sys.executable -m pip``; e.g. ['install', '-q', 'git+https://github.com/o/r@main']."""
    cell = nb["cells"][0]
    if COLAB_TAG not in cell.get("metadata", {}).get("tags", []):
        raise ValueError("the first cell is not the Colab set-up cell (tag colab-setup)")
    for node in ast.walk(ast.parse(source(cell))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "run" and node.args:
            items = node.args[0].elts
            literal = [ast.literal_eval(item) for item in items[1:]]   # items[0] is sys.executable
            if literal[:2] != ["-m", "pip"]:
                raise ValueError(f"the Colab cell does not run pip: {literal}")
            return literal[2:]
    raise ValueError("the Colab set-up cell has no subprocess.run([...]) call")


def git_requirement(pip_args) -> tuple[str, str]:
    """(repository url, revision) of the one ``git+URL@REV`` argument."""
    gits = [a for a in pip_args if a.startswith("git+")]
    if len(gits) != 1:
        raise ValueError(f"expected one git+ requirement in {pip_args}")
    url, _, rev = gits[0][len("git+"):].rpartition("@")
    return url, rev


def local_pip_args(pip_args, url: str, rev: str) -> list[str]:
    """The Colab cell's pip arguments with its repository and branch replaced."""
    return [f"git+{url}@{rev}" if a.startswith("git+") else a for a in pip_args]


def lower_bounds(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """{package: version} of every ``name>=version`` in [project] dependencies."""
    try:
        import tomllib
        deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except ImportError:   # Python < 3.11: the one-line list this project uses
        deps = re.findall(r'"([^"]+)"', re.search(r"^dependencies = \[(.*)\]", pyproject.read_text(), re.M).group(1))
    bounds = {}
    for dep in deps:
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(?:\[.*\])?\s*(.*)$", dep)
        for spec in filter(None, (s.strip() for s in m.group(2).split(","))):
            if spec.startswith(">="):
                bounds[m.group(1).lower()] = spec[2:].strip()
    return bounds


def oldest_pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """torch, numpy and matplotlib pinned to their lower bounds in pyproject.toml."""
    bounds = lower_bounds(pyproject)
    missing = [p for p in PINNED if p not in bounds]
    if missing:
        raise SystemExit(f"pyproject.toml has no lower bound (>=) for {', '.join(missing)}")
    return [f"{p}=={bounds[p]}" for p in PINNED]


def config_pins(config: str, pins: str = "", pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Requirements installed before course_pkg (what Colab has preinstalled). ``newest``: torch, unpinned;
    ``oldest``: pyproject's lower bounds (explicit pins for it must equal them); any other name needs pins."""
    if config == "oldest":
        expected = oldest_pins(pyproject)
        if pins and sorted(pins.split()) != sorted(expected):
            raise SystemExit(f"config oldest pins {pins.split()}, but pyproject.toml's lower bounds are {expected}")
        return expected
    if pins:
        return pins.split()
    if config == "newest":
        return ["torch"]
    raise SystemExit(f"config {config!r} needs --pins (only newest and oldest have their own)")


def colab_env(environ) -> dict:
    """The environment the notebooks run in: this one without the project's numerical settings."""
    return {k: v for k, v in environ.items() if k not in NUMERICS_VARS}


# ----------------------------------------------------------------------------- report

def summarize(result) -> str:
    if result.get("missing"):
        return "**not run**"
    if result["errors"]:
        return f"**error** ({len(result['errors'])})"
    if result["diffs"]:
        cells = len({d["cell"] for d in result["diffs"]})
        return f"{cells} cell{'s' * (cells != 1)} differ"
    if "checks" in result:
        return f"ok ({result['checks']} checks NOT ATTEMPTED)" if result["checks"] else "ok (no checks)"
    return "ok"


def describe_delta(delta) -> str:
    if delta is None:
        return "text differs"
    n, absolute, relative = delta
    return f"numbers only: {n} value{'s' * (n != 1)}, max abs diff {absolute:.3g}, max rel diff {relative:.3g}"


def report(header: list[str], results: dict) -> tuple[str, int, int]:
    """Markdown report and (number of notebooks with errors, number of differing cells)."""
    n_err = sum(1 for r in results.values() if r["errors"] or r.get("missing"))
    n_cells = sum(len({d["cell"] for d in r["diffs"]}) for r in results.values())
    n_nb_diff = sum(1 for r in results.values() if r["diffs"])
    lines = header + ["", "| notebook | result | seconds |", "|---|---|---:|"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {summarize(r)} | {r.get('seconds', 0):.1f} |")
    lines += ["", f"**{len(results)} notebooks: {n_err} with errors, {n_cells} cells with printed values that differ "
              f"from the stored outputs (in {n_nb_diff} notebooks).**"]
    for name, r in results.items():
        if r["errors"]:
            lines += ["", f"### Errors in `{name}`", ""]
            for e in r["errors"]:
                lines += ["```", e, "```"]
    for name, r in results.items():
        if r["diffs"]:
            lines += ["", f"### Differences in `{name}`"]
            for d in r["diffs"]:
                lines += ["", f"cell {d['cell']}, {d['key']}: {describe_delta(d['delta'])}", "", "```diff", d["diff"], "```"]
    return "\n".join(lines) + "\n", n_err, n_cells


# ----------------------------------------------------------------------------- execution (inside the compat venv)

def execute(argv):
    """Run notebooks in fresh kernels of this interpreter; write the executed notebooks and their timings."""
    ap = argparse.ArgumentParser(prog="compat.py execute")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("notebooks", nargs="+", type=Path)
    args = ap.parse_args(argv)
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager

    kernel = "course-compat"
    spec = KernelSpecManager().get_kernel_spec(kernel)
    if Path(spec.argv[0]).resolve() != Path(sys.executable).resolve():
        sys.exit(f"kernel {kernel} runs {spec.argv[0]}, not this environment's {sys.executable}")
    leaked = [v for v in NUMERICS_VARS if v in os.environ]
    if leaked:
        sys.exit(f"the numerical environment must not be set in a Colab-like run: {leaked}")
    timings = {}
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        scratch = Path(tempfile.mkdtemp(prefix="compat-run-"))   # like Colab's /content: no course_pkg beside it
        start = time.perf_counter()
        try:
            nbclient.NotebookClient(nb, timeout=args.timeout, kernel_name=kernel, allow_errors=True,
                                    record_timing=False, resources={"metadata": {"path": str(scratch)}}).execute()
        except Exception as err:   # a dead kernel or a time-out: keep what ran and record the failure
            nb.cells[-1].setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename=type(err).__name__, evalue=str(err)[:2000], traceback=[]))
        timings[str(path)] = time.perf_counter() - start
        shutil.rmtree(scratch, ignore_errors=True)
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        print(f"  {path}: {timings[str(path)]:.1f} s", flush=True)
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1))


# ----------------------------------------------------------------------------- orchestration

def sh(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def find_python(name: str) -> str:
    """The interpreter to build the environment with; pyenv's versions folder when the name is only a shim."""
    candidates = [name] + sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{name.replace('python', '')}*/bin/{name}")))
    for candidate in candidates:
        try:
            subprocess.run([candidate, "--version"], check=True, capture_output=True)
            return candidate
        except (OSError, subprocess.CalledProcessError):
            continue
    raise SystemExit(f"{name} not found: install Python 3.12 or pass --python")


def git(*args) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def versions(python) -> dict:
    code = ("import json, platform, importlib.metadata as m; d = {'python': platform.python_version()}\n"
            "for p in ('torch', 'numpy', 'matplotlib', 'tqdm', 'course_pkg', 'nbclient', 'ipykernel'):\n"
            "    d[p] = m.version(p)\n"
            "import course_pkg; d['course_pkg_file'] = course_pkg.__file__\n"
            "d['direct_url'] = json.loads(m.distribution('course_pkg').read_text('direct_url.json'))\n"
            "print(json.dumps(d))")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout)


def setup_env(venv: Path, python: str, pins: list[str], torch_index: str, fresh: bool):
    """Create (or reuse, when made for the same requirements) the venv and preinstall what Colab has."""
    stamp = venv / "compat-spec.json"
    spec = {"python": subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip(),
            "preinstalled": pins + list(RUNNER), "torch_index": torch_index}
    if venv.exists() and (fresh or not stamp.exists() or json.loads(stamp.read_text()) != spec):
        shutil.rmtree(venv)
    vpy = venv / "bin" / "python"
    if not venv.exists():
        sh([python, "-m", "venv", venv])
        sh([vpy, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        extra = ["--extra-index-url", torch_index] if torch_index else []
        sh([vpy, "-m", "pip", "install", "-q", *extra, *pins, *RUNNER])
        sh([vpy, "-m", "ipykernel", "install", "--sys-prefix", "--name", "course-compat",
            "--display-name", "Python 3 (compat)"], stdout=subprocess.DEVNULL)
        stamp.write_text(json.dumps(spec))
    return vpy


class _Skip(Exception):
    """--compare-only: no installation."""


def run(args) -> int:
    started = time.perf_counter()
    pins = config_pins(args.config, args.pins)
    name = args.config
    base = args.out / name
    base.mkdir(parents=True, exist_ok=True)
    saved = base / "run.json"   # what the last execution in this folder ran (for --compare-only)
    if args.compare_only:
        if not saved.exists():
            raise SystemExit(f"--compare-only: no earlier run in {base}")
        last = json.loads(saved.read_text())
        commit, pins = last["commit"], last["pins"]
    else:
        commit = git("rev-parse", "HEAD")
    dirty = "" if args.compare_only else git("status", "--porcelain", "--", "course_pkg", "pyproject.toml", "book", "student")
    paths = sorted(git("ls-tree", "-r", "--name-only", commit, "--", "book", "student").splitlines())
    notebooks = [p for p in paths if p.endswith(".ipynb") and p.count("/") == 1]
    if args.notebooks:
        notebooks = [p for p in notebooks if any(re.search(pattern, p) for pattern in args.notebooks)]
    if not notebooks:
        raise SystemExit("no notebooks to run")

    # The notebooks of the commit under test, and the pip command of their Colab cell.
    source_dir = base / "source"
    shutil.rmtree(source_dir, ignore_errors=True)
    stored = {}
    for p in notebooks:
        stored[p] = json.loads(git("show", f"{commit}:{p}"))
        (source_dir / p).parent.mkdir(parents=True, exist_ok=True)
        (source_dir / p).write_text(json.dumps(stored[p]))
    cells = {p: colab_pip_args(nb) for p, nb in stored.items()}
    if len({tuple(a) for a in cells.values()}) != 1:
        raise SystemExit(f"the notebooks' Colab cells differ: {cells}")
    colab_args = next(iter(cells.values()))
    colab_url, colab_branch = git_requirement(colab_args)
    repo_url = args.repo_url or f"file://{ROOT}"
    pip_args = local_pip_args(colab_args, repo_url, commit)

    log = base / "install.log"
    t0 = time.perf_counter()
    vpy = base / "venv" / "bin" / "python"
    try:
        if args.compare_only:
            raise _Skip
        with log.open("w") as fh:
            print(f"== environment {name}: {' '.join(pins)} (log: {log})", flush=True)
            vpy = setup_env(base / "venv", find_python(args.python), pins, args.torch_index, args.fresh)
            sh([vpy, "-m", "pip", "uninstall", "-q", "-y", "course_pkg"], stdout=fh, stderr=fh)
            # The Colab cell's command; constraints keep a pinned configuration from being upgraded silently.
            constraint = base / "constraints.txt"
            constraint.write_text("\n".join(p for p in pins if "==" in p) + "\n")
            sh([vpy, "-m", "pip", *pip_args, "-c", constraint], stdout=fh, stderr=fh)
            env_versions = versions(str(vpy))
    except subprocess.CalledProcessError as err:
        print(log.read_text()[-4000:], file=sys.stderr)
        text_ = f"# Colab-like run `{name}`: installation failed\n\n`{' '.join(map(str, err.cmd))}` exited {err.returncode}; see {log}.\n"
        (base / "report.md").write_text(text_)
        print(text_)
        return 1
    except _Skip:
        env_versions = versions(str(vpy))
    install_s = last["install_s"] if args.compare_only else time.perf_counter() - t0
    if not env_versions["course_pkg_file"].startswith(str(base / "venv")):
        raise SystemExit(f"course_pkg was imported from {env_versions['course_pkg_file']}, not the compat venv")

    executed_dir = base / "executed"
    if not args.compare_only:
        print(f"== running {len(notebooks)} notebooks", flush=True)
        shutil.rmtree(executed_dir, ignore_errors=True)
        saved.unlink(missing_ok=True)
        subprocess.run([str(vpy), str(ROOT / "tools" / "compat.py"), "execute", "--out", str(executed_dir.resolve()),
                        *notebooks], check=True, cwd=source_dir, env=colab_env(os.environ))
        saved.write_text(json.dumps({"commit": commit, "pins": pins, "install_s": install_s,
                                     "run_s": time.perf_counter() - started}))
    else:
        started -= json.loads(saved.read_text())["run_s"]
    timings = json.loads((executed_dir / "timings.json").read_text())

    patterns = sanitize_patterns()
    results = {}
    for p in notebooks:
        target = executed_dir / p
        if not target.exists():
            results[p] = {"errors": ["not executed"], "diffs": [], "missing": True}
            continue
        executed = json.loads(target.read_text())
        results[p] = compare_chapter(stored[p], executed, patterns) if p.startswith("book/") else check_student(executed)
        results[p]["seconds"] = timings.get(p, 0.0)

    direct = env_versions["direct_url"]
    header = [
        f"# Colab-like compatibility run: `{name}`",
        "",
        f"- Python {env_versions['python']}, torch {env_versions['torch']}, numpy {env_versions['numpy']}, "
        f"matplotlib {env_versions['matplotlib']}, tqdm {env_versions['tqdm']} "
        f"(preinstalled: `{' '.join(pins)}`{', torch from ' + args.torch_index if args.torch_index else ''})",
        f"- course_pkg {env_versions['course_pkg']} installed by the Colab cell's command with "
        f"`git+{colab_url}@{colab_branch}` replaced: `pip {' '.join(pip_args)}` "
        f"(installed commit {direct.get('vcs_info', {}).get('commit_id', '?')[:12]})",
        f"- Notebooks from commit {commit[:12]}; native numerics ({', '.join(NUMERICS_VARS)} unset, as on Colab); "
        f"printed-value differences are {'errors (--strict)' if args.strict else 'reported, not errors'}.",
        f"- Time: environment and install {install_s:.0f} s, whole run {time.perf_counter() - started:.0f} s.",
    ]
    if dirty:
        header.append(f"- **Uncommitted changes are not part of this run** (`git status`: {len(dirty.splitlines())} paths).")
    body, n_err, n_cells = report(header, results)
    (base / "report.md").write_text(body)
    print(body)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for p, r in results.items():
            if r["errors"]:
                print(f"::error title=compat {name}::{p}: {r['errors'][0].splitlines()[0]}")
            if r["diffs"]:
                print(f"::warning title=compat {name}::{p}: {summarize(r)}")
    if args.delete_venv:
        shutil.rmtree(base / "venv", ignore_errors=True)
    return 1 if n_err or (args.strict and n_cells) else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["execute"]:
        return execute(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="newest",
                    help="newest (default), oldest (pyproject's lower bounds), or a name for --pins")
    ap.add_argument("--pins", default="", help='preinstall these, e.g. "torch==2.3.1 numpy==1.26.4"')
    ap.add_argument("--python", default="python3.12", help="interpreter for the environment (default python3.12)")
    ap.add_argument("--torch-index", default=os.environ.get("COMPAT_TORCH_INDEX", ""),
                    help="extra index for torch, e.g. https://download.pytorch.org/whl/cpu (CPU wheels)")
    ap.add_argument("--repo-url", default="", help="repository to pip-install from (default: this checkout)")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "compat")
    ap.add_argument("--fresh", action="store_true", help="recreate the environment even when it could be reused")
    ap.add_argument("--delete-venv", action="store_true", help="delete the environment afterwards (disk)")
    ap.add_argument("--compare-only", action="store_true",
                    help="re-compare and re-report the last run in this folder, without installing or running")
    ap.add_argument("--strict", action="store_true", help="fail on printed values that differ, too")
    ap.add_argument("notebooks", nargs="*", help="regular expressions selecting notebooks (default: all)")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
