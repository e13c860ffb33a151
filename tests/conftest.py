import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import browser_setup  # noqa: E402


@pytest.fixture(params=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def device(request):
    """Run a test on the CPU, and also on CUDA where a GPU is present."""
    return torch.device(request.param)
collect_ignore_glob = ["fixtures/*"]  # submissions for the grader tests, not tests themselves


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (tools/browser_setup.py finds or installs it), shared by a test module's pages."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = browser_setup.launch(pw)
        yield b
        b.close()
