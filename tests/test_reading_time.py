"""tools/reading_time.py: main-path words, what make bench reports as each chapter's reading time."""
import sys
from pathlib import Path

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
