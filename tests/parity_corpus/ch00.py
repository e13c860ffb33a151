"""Chapter 0, PyTorch essentials: answer variants with the verdict they must get (see ``__init__.py``).
(tests/test_homework_essentials.py has more variants per exercise; these are the ones both paths must agree on.)"""
IMPORTS = """
import torch
import torch.nn.functional as F
"""

VARIANTS = {
    "essentials.mse": [
        ("mean of squares", "PASSED", "", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).mean()
"""),
        ("pow and torch.mean", "PASSED", "", IMPORTS + """
def mean_squared_error(pred, target):
    return torch.mean((pred - target).pow(2))
"""),
        ("sum over numel", "PASSED", "", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) * (pred - target)).sum() / pred.numel()
"""),
        ("F.mse_loss, which the exercise forbids", "FLAGGED", "0 points when graded", IMPORTS + """
def mean_squared_error(pred, target):
    return F.mse_loss(pred, target)
"""),
        ("sum, not mean", "FAILED", "sum of the squared errors", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).sum()
"""),
        ("root of the mean", "FAILED", "RMSE", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).mean().sqrt()
"""),
        ("a Python float", "FAILED", "do not call .item()", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).mean().item()
"""),
    ],
    "essentials.pick": [
        ("gather", "PASSED", "", IMPORTS + """
def pick(scores, targets):
    return scores.gather(1, targets.unsqueeze(1)).squeeze(1)
"""),
        ("arange indexing", "PASSED", "", IMPORTS + """
def pick(scores, targets):
    return scores[torch.arange(len(targets)), targets]
"""),
        ("take_along_dim", "PASSED", "", IMPORTS + """
def pick(scores, targets):
    return torch.take_along_dim(scores, targets[:, None], dim=1)[:, 0]
"""),
        ("scores[:, targets]", "FAILED", "scores[:, targets]", IMPORTS + """
def pick(scores, targets):
    return scores[:, targets]
"""),
        ("gather without squeeze", "FAILED", "squeeze(1)", IMPORTS + """
def pick(scores, targets):
    return scores.gather(1, targets.unsqueeze(1))
"""),
        ("gather without unsqueeze", "FAILED", "targets.unsqueeze(1)", IMPORTS + """
def pick(scores, targets):
    return scores.gather(1, targets).squeeze(1)
"""),
        ("gather along dim 0", "FAILED", "gather along dim 1", IMPORTS + """
def pick(scores, targets):
    return scores.gather(0, targets.unsqueeze(0))
"""),
    ],
    "essentials.fit": [
        ("torch.optim.SGD", "PASSED", "", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach()
"""),
        ("by hand with w.grad.zero_()", "PASSED", "", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad.zero_()
    return w.detach()
"""),
        ("torch.autograd.grad", "PASSED", "", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0
    for _ in range(steps):
        w = w.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)
        w = w - lr * grad
    return w.detach()
"""),
        ("no zero_grad", "FAILED", "zero_grad", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach()
"""),
        ("a summed loss", "FAILED", "mean reduction", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).sum().backward()
        opt.step()
    return w.detach()
"""),
        ("no step", "FAILED", "did not change", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
    return w.detach()
"""),
    ],
    "essentials.evaluate": [
        ("no_grad decorator", "PASSED", "", IMPORTS + """
@torch.no_grad()
def evaluate(w, x, y):
    return ((x @ w - y) ** 2).mean()
"""),
        ("detach", "PASSED", "", IMPORTS + """
def evaluate(w, x, y):
    return ((x @ w - y) ** 2).mean().detach()
"""),
        ("inference_mode", "PASSED", "", IMPORTS + """
def evaluate(w, x, y):
    with torch.inference_mode():
        return ((x @ w - y) ** 2).mean()
"""),
        ("graph kept", "FAILED", "torch.no_grad()", IMPORTS + """
def evaluate(w, x, y):
    return ((x @ w - y) ** 2).mean()
"""),
        ("sum over the batch", "FAILED", "sum of the squared errors over the batch", IMPORTS + """
@torch.no_grad()
def evaluate(w, x, y):
    return ((x @ w - y) ** 2).sum()
"""),
        ("a Python float", "FAILED", "do not call .item()", IMPORTS + """
def evaluate(w, x, y):
    return ((x @ w - y) ** 2).mean().item()
"""),
    ],
}
