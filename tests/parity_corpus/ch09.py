"""Chapter 9, Predicting distributions: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import math
import torch
import torch.nn.functional as F
from course_pkg.losses import gaussian_nll, pinball_loss, mdn_nll
"""

VARIANTS = {
    "distributions.gaussian_nll": [
        ("clamp the value only (detach trick)", "PASSED", "", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var + (var.clamp(min=1e-6) - var).detach()
    return 0.5 * (torch.log(v) + (target - mean) ** 2 / v).mean()
"""),
        ("clamp_ on a clone under no_grad (as PyTorch)", "PASSED", "", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var.clone()
    with torch.no_grad():
        v.clamp_(min=1e-6)
    return (0.5 * (v.log() + (target - mean).pow(2) / v)).mean()
"""),
        ("the floor in the input's dtype", "PASSED", "", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    eps = torch.tensor(1e-6, dtype=var.dtype)
    v = var - (var - torch.maximum(var, eps)).detach()
    return torch.mean(0.5 * torch.log(v) + 0.5 * (target - mean) ** 2 / v)
"""),
        ("F.gaussian_nll_loss (forbidden)", "FLAGGED", "gaussian_nll_loss", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    return F.gaussian_nll_loss(mean, target, var)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.gaussian_nll", IMPORTS + """
my_gaussian_nll = gaussian_nll
"""),
        ("a float32 floor: torch.maximum(var, torch.tensor(1e-6))", "FAILED", "float32 constant", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var - (var - torch.maximum(var, torch.tensor(1e-6))).detach()
    return 0.5 * (torch.log(v) + (target - mean) ** 2 / v).mean()
"""),
        ("sum instead of mean", "FAILED", "return their mean", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var + (var.clamp(min=1e-6) - var).detach()
    return 0.5 * (torch.log(v) + (target - mean) ** 2 / v).sum()
"""),
        ("the clamp also cuts the gradient", "FAILED", "clamp only the value", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var.clamp(min=1e-6)
    return 0.5 * (torch.log(v) + (target - mean) ** 2 / v).mean()
"""),
        ("no floor: inf at variance 0", "FAILED", "clamp the variance", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    return 0.5 * (torch.log(var) + (target - mean) ** 2 / var).mean()
"""),
        ("in place: var.clamp_()", "FAILED", "in place", IMPORTS + """
def my_gaussian_nll(mean, var, target):
    v = var.clamp_(min=1e-6)
    return 0.5 * (torch.log(v) + (target - mean) ** 2 / v).mean()
"""),
    ],
    "distributions.pinball_loss": [
        ("levels in the input's dtype, maximum", "PASSED", "", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).mean()
"""),
        ("float32 levels (torch.tensor(quantiles))", "PASSED", "", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles)
    e = target[:, None] - pred
    return torch.maximum(q * e, (q - 1) * e).mean()
"""),
        ("torch.where on the sign", "PASSED", "", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.as_tensor(quantiles, dtype=pred.dtype)
    e = target.unsqueeze(-1) - pred
    return torch.where(e >= 0, q * e, (q - 1) * e).mean()
"""),
        ("indicator form", "PASSED", "", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.reshape(-1, 1) - pred
    return ((q - (e < 0).to(e.dtype)) * e).mean()
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.pinball_loss", IMPORTS + """
my_pinball = pinball_loss
"""),
        ("the sides swapped", "FAILED", "wrong way round", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = pred - target.unsqueeze(1)
    return torch.maximum(q * e, (q - 1) * e).mean()
"""),
        ("sum instead of mean", "FAILED", "return the mean", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target.unsqueeze(1) - pred
    return torch.maximum(q * e, (q - 1) * e).sum()
"""),
        ("target not lined up with the rows", "ERROR", "target.unsqueeze(1)", IMPORTS + """
def my_pinball(pred, target, quantiles):
    q = torch.tensor(quantiles, dtype=pred.dtype)
    e = target - pred
    return torch.maximum(q * e, (q - 1) * e).mean()
"""),
    ],
    "distributions.mdn_nll": [
        ("log_softmax and logsumexp", "PASSED", "", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    log_w = torch.log_softmax(pi_logits, dim=1)
    z = (target.unsqueeze(1) - mu) / sigma
    log_n = -0.5 * z ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(log_w + log_n, dim=1).mean()
"""),
        ("F.log_softmax, logsumexp by hand", "PASSED", "", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    a = F.log_softmax(pi_logits, dim=-1) - 0.5 * ((target[:, None] - mu) / sigma) ** 2 - sigma.log() \\
        - 0.5 * math.log(2 * math.pi)
    m = a.amax(dim=1, keepdim=True)
    return -(m.squeeze(1) + torch.log(torch.exp(a - m).sum(dim=1))).mean()
"""),
        ("log-weights from logsumexp of the logits", "PASSED", "", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    log_w = pi_logits - torch.logsumexp(pi_logits, dim=1, keepdim=True)
    log_n = -0.5 * ((target.unsqueeze(1) - mu) / sigma).pow(2) - torch.log(sigma * math.sqrt(2 * math.pi))
    return -torch.logsumexp(log_w + log_n, 1).mean()
"""),
        ("torch.distributions (forbidden)", "FLAGGED", "torch.distributions", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    mix = torch.distributions.Categorical(logits=pi_logits)
    comp = torch.distributions.Normal(mu, sigma)
    return -torch.distributions.MixtureSameFamily(mix, comp).log_prob(target).mean()
"""),
        ("logits used as log-weights", "FAILED", "log_softmax over the K components", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    log_n = -0.5 * ((target.unsqueeze(1) - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(pi_logits + log_n, dim=1).mean()
"""),
        ("sum instead of mean", "FAILED", "mean over N", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    log_w = torch.log_softmax(pi_logits, dim=1)
    log_n = -0.5 * ((target.unsqueeze(1) - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(log_w + log_n, dim=1).sum()
"""),
        ("in place: sigma.clamp_()", "FAILED", "in place", IMPORTS + """
def my_mdn_nll(pi_logits, mu, sigma, target):
    sigma = sigma.clamp_(min=1e-6)
    log_w = torch.log_softmax(pi_logits, dim=1)
    log_n = -0.5 * ((target.unsqueeze(1) - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(log_w + log_n, dim=1).mean()
"""),
    ],
}
