import pytest
import torch


@pytest.fixture(params=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def device(request):
    """Run a test on the CPU, and also on CUDA where a GPU is present."""
    return torch.device(request.param)
collect_ignore_glob = ["fixtures/*"]  # submissions for the grader tests, not tests themselves
