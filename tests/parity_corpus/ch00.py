"""Chapter 0, PyTorch essentials: answer variants with the verdict they must get (see ``__init__.py``)."""
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
        ("a Python loop", "PASSED", "", IMPORTS + """
def mean_squared_error(pred, target):
    total = torch.zeros((), dtype=pred.dtype)
    for p, t in zip(pred.reshape(-1), target.reshape(-1)):
        total = total + (p - t) ** 2
    return total / pred.numel()
"""),
        ("absolute errors", "FAILED", "mean absolute error", IMPORTS + """
def mean_squared_error(pred, target):
    return (pred - target).abs().mean()
"""),
        ("not squared", "FAILED", "not squared", IMPORTS + """
def mean_squared_error(pred, target):
    return (pred - target).mean()
"""),
        ("halved", "FAILED", "half the mean squared error", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).mean() / 2
"""),
        ("mean over one dimension", "FAILED", "wrong shape", IMPORTS + """
def mean_squared_error(pred, target):
    return ((pred - target) ** 2).mean(0)
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
        ("one-hot mask", "PASSED", "", IMPORTS + """
def pick(scores, targets):
    return (scores * F.one_hot(targets, scores.shape[1]).to(scores.dtype)).sum(1)
"""),
        ("a Python loop", "PASSED", "", IMPORTS + """
def pick(scores, targets):
    return torch.stack([scores[n, targets[n]] for n in range(len(targets))])
"""),
        ("detached", "FAILED", "detached", IMPORTS + """
def pick(scores, targets):
    return scores.detach()[torch.arange(len(targets)), targets]
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
        ("an nn.Linear", "PASSED", "", IMPORTS + """
def fit(w0, x, y, lr, steps):
    model = torch.nn.Linear(x.shape[1], 1, bias=False).to(x.dtype)
    with torch.no_grad():
        model.weight.copy_(w0.unsqueeze(0))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return model.weight.detach().squeeze(0).clone()
"""),
        ("up the gradient", "FAILED", "up the gradient", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        (grad,) = torch.autograd.grad(((x @ w - y) ** 2).mean(), w)
        w = (w + lr * grad).detach().requires_grad_(True)
    return w.detach()
"""),
        ("w0 changed in place", "FAILED", "in place", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.detach().requires_grad_(True)        # detach shares w0's memory: the steps change the caller's w0
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
    return w.detach().clone()
"""),
        ("one step too many", "FAILED", "steps, not", IMPORTS + """
def fit(w0, x, y, lr, steps):
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.SGD([w], lr=lr)
    for _ in range(steps + 1):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
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
        ("detached weights", "PASSED", "", IMPORTS + """
def evaluate(w, x, y):
    return ((x @ w.detach() - y) ** 2).mean()
"""),
    ],
}
