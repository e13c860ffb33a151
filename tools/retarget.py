"""Re-derive everything that names the repository from ``_config.yml``'s ``repository`` section.

    python tools/retarget.py        # or: make retarget

Rewrites, without executing anything: the Colab set-up cell at the top of each
book notebook (its install command), the README badges between the
``<!-- badges -->`` markers, and the student notebooks (when the homework
generator is present). Launch buttons and the "homework version" links are
derived by the book build itself. A fork edits ``repository.url`` (and
``branch``) in ``_config.yml``, runs this, and commits.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refresh_notebooks import ROOT, colab_cell_source, repository, with_colab_cell  # noqa: E402

BADGES = re.compile(r"(<!-- badges:start -->\n).*?(<!-- badges:end -->)", re.S)


def badges_markdown() -> str:
    url, branch = repository()
    owner_repo = url.removeprefix("https://github.com/")
    owner, repo = owner_repo.split("/")
    return (
        f"[![test]({url}/actions/workflows/test.yml/badge.svg?branch={branch})]({url}/actions/workflows/test.yml) "
        f"[![pages]({url}/actions/workflows/pages.yml/badge.svg?branch={branch})](https://{owner}.github.io/{repo}/) "
        f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{owner_repo}/blob/{branch}/book/01_why_transform_outputs.ipynb)\n"
    )


def update_readme(path: Path = ROOT / "README.md") -> bool:
    text = path.read_text()
    new = BADGES.sub(lambda m: m.group(1) + badges_markdown() + m.group(2), text)
    if new != text:
        path.write_text(new)
    return new != text


def update_notebooks() -> list:
    changed, source = [], colab_cell_source()
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        with_colab_cell(nb, source)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path.name)
    return changed


def main():
    changed = update_notebooks()
    print(f"Colab cells updated in {len(changed)} notebook(s)")
    print("README badges updated" if update_readme() else "README badges already current")
    if (ROOT / "course_pkg" / "homework" / "student.py").exists():
        subprocess.run([sys.executable, "-m", "course_pkg.homework.student"], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
