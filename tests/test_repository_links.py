"""The repository URL lives in _config.yml alone; everything that names it is derived and must agree."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from refresh_notebooks import COLAB_TAG, colab_cell_source  # noqa: E402
from retarget import BADGES, badges_markdown  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_current_colab_setup(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "code" and COLAB_TAG in first.metadata.get("tags", [])
    assert "remove-cell" in first.metadata["tags"], "the book must hide the Colab set-up cell"
    assert first.source == colab_cell_source(), f"{path.name}: Colab cell is stale; run `make retarget`"
    assert first.outputs == [], "outside Colab the set-up cell must print nothing"


def test_readme_badges_follow_config():
    text = (ROOT / "README.md").read_text()
    match = BADGES.search(text)
    assert match, "README lacks the <!-- badges:start --> ... <!-- badges:end --> block"
    assert badges_markdown() in match.group(0), "README badges are stale; run `make retarget`"
