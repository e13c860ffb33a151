"""tools/reading_time.py: main-path words, what make bench reports as each chapter's reading time."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import reading_time as rt  # noqa: E402


def test_counts_prose_and_skips_code_math_and_collapsed_blocks():
    cell = ("One two three $x^2$ and `code`.\n\n$$a + b$$\n\n```python\nnot counted at all\n```\n\n"
            "```{admonition} Under the hood\n:class: dropdown\nhidden words here\n```\n\n"
            "```{dropdown} More\nalso hidden\n```\n\n```{note}\nseen words\n```\n<details>gone</details> end")
    words, open_solution = rt.main_path_words(cell)
    # One two three x and x | Under the hood | More | seen words | end
    assert words == 6 + 3 + 1 + 2 + 1
    assert open_solution is False


def test_a_solution_spanning_cells_is_skipped():
    _, open_solution = rt.main_path_words("Text.\n\n```{solution-start} ex-a\n:class: dropdown\n```")
    assert open_solution is True
    words, open_solution = rt.main_path_words("the hidden solution text", open_solution)
    assert (words, open_solution) == (0, True)
    words, open_solution = rt.main_path_words("```{solution-end}\n```\nvisible again", open_solution)
    assert (words, open_solution) == (2, False)


def test_every_chapter_is_measured():
    rows = rt.table()
    assert [r[0] for r in rows] == sorted(p.name for p in (ROOT / "book").glob("[0-9]*.ipynb"))
    assert all(words > 100 and minutes == words / 200 for _, words, minutes in rows)


# Issue 17 (a path for PyTorch beginners), chapters 8 to 11; the other chapters join the list as they reach the target.
BEGINNER_PATH_CHAPTERS = ["08_distance_losses.ipynb", "09_predicting_distributions.ipynb",
                          "10_structured_outputs.ipynb", "11_trustworthy_probabilities.ipynb"]


@pytest.mark.parametrize("name", BEGINNER_PATH_CHAPTERS)
def test_main_path_reads_within_the_target(name):
    minutes = {n: m for n, _, m in rt.table()}[name]
    assert minutes <= rt.TARGET_MINUTES, f"{name}: main path {minutes:.1f} min; move deep-dives into 'Under the hood'"


@pytest.mark.parametrize("name", BEGINNER_PATH_CHAPTERS)
def test_chapter_says_what_it_assumes_before_its_first_code(name):
    nb = nbformat.read(ROOT / "book" / name, as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "remove-cell" not in
                      c.metadata.get("tags", []))
    intro = "\n".join(c.source for c in nb.cells[:first_code] if c.cell_type == "markdown")
    assert "{admonition} Before you start" in intro, f"{name}: no 'Before you start' admonition before the first code"
    assert "00_pytorch_essentials.ipynb" in intro, f"{name}: 'Before you start' does not link the PyTorch primer"


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("[0-9]*.ipynb")), ids=lambda p: p.name)
def test_every_under_the_hood_block_is_collapsed(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if "{admonition} Under the hood" in line:
                assert line.lstrip().startswith("```"), f"{path.name}: {line!r} needs a backtick fence (reading_time)"
                assert "`" not in line.split("}", 1)[1], f"{path.name}: {line!r}: no backticks in a fence's title"
                options = [o.strip() for o in lines[i + 1:i + 4] if o.strip().startswith(":")]
                assert any(o.startswith(":class:") and "dropdown" in o for o in options), \
                    f"{path.name}: {line!r} is not collapsed (:class: dropdown)"
