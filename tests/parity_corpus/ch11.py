"""Chapter 11, Probabilities you can trust: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.calibration import expected_calibration_error
from course_pkg.losses import logit_adjusted_cross_entropy
"""


def _ece(index, gap="(correct[m].mean() - conf[m].mean()).abs()", weight="m.to(probs.dtype).mean()"):
    return IMPORTS + f"""
def my_ece(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    index = {index}
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        m = index == b
        if m.any():
            ece = ece + {weight} * {gap}
    return ece
"""


RIGHT_CLOSED = "(torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()"


def _gumbel(combine):
    return IMPORTS + f"""
def gumbel_hard(logits, noise, tau):
    perturbed = logits + noise
    soft = torch.softmax(perturbed / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter(-1, perturbed.argmax(dim=-1, keepdim=True), 1.0)
    return {combine}
"""


VARIANTS = {
    "probabilities.ece": [
        ("bins by ceil, loop", "PASSED", "", _ece(RIGHT_CLOSED)),
        ("bucketize on the inner edges", "PASSED", "", _ece(
            "torch.bucketize(conf, torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype)[1:-1])")),
        ("counts over N instead of the mask mean", "PASSED", "", _ece(RIGHT_CLOSED, weight="m.sum() / len(conf)")),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.calibration.expected_calibration_error", IMPORTS + """
my_ece = expected_calibration_error
"""),
        ("bins closed on the left (floor)", "FAILED", "open on the left",
         _ece("torch.floor(conf * n_bins).clamp(0, n_bins - 1).long()")),
        ("gaps without weights", "FAILED", "weighted by its share", IMPORTS + """
def my_ece(probs, labels, n_bins):
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    index = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    gaps = [(correct[index == b].mean() - conf[index == b].mean()).abs() for b in range(n_bins) if (index == b).any()]
    return torch.stack(gaps).mean()
"""),
        ("signed gaps", "FAILED", "absolute gap", _ece(RIGHT_CLOSED, gap="(correct[m].mean() - conf[m].mean())")),
        ("in place: probs.clamp_()", "FAILED", "in place", IMPORTS + """
def my_ece(probs, labels, n_bins):
    probs.clamp_(min=1e-3)
    conf, pred = probs.max(dim=1)
    correct = (pred == labels).to(probs.dtype)
    index = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    ece = torch.zeros((), dtype=probs.dtype)
    for b in range(n_bins):
        m = index == b
        if m.any():
            ece = ece + m.to(probs.dtype).mean() * (correct[m].mean() - conf[m].mean()).abs()
    return ece
"""),
    ],
    "probabilities.logit_adjust": [
        ("logsumexp and gather", "PASSED", "", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior
    return -(z - torch.logsumexp(z, dim=1, keepdim=True)).gather(1, target.unsqueeze(1)).mean()
"""),
        ("shift by the row maximum, arange indexing", "PASSED", "", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior
    z = z - z.amax(dim=1, keepdim=True)
    lp = z - z.exp().sum(dim=1, keepdim=True).log()
    return -lp[torch.arange(len(target)), target].mean()
"""),
        ("one-hot weights", "PASSED", "", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior.unsqueeze(0)
    lp = z - torch.logsumexp(z, 1, keepdim=True)
    return -(lp * torch.eye(z.shape[1], dtype=z.dtype)[target]).sum(1).mean()
"""),
        ("F.cross_entropy (forbidden)", "FLAGGED", "torch.nn.functional.cross_entropy", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    return F.cross_entropy(logits + tau * log_prior, target)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.logit_adjusted_cross_entropy", IMPORTS + """
my_logit_adjusted_loss = logit_adjusted_cross_entropy
"""),
        ("sign error", "FAILED", "sign", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits - tau * log_prior
    return -(z - torch.logsumexp(z, dim=1, keepdim=True)).gather(1, target.unsqueeze(1)).mean()
"""),
        ("sum instead of mean", "FAILED", "do not sum", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior
    return -(z - torch.logsumexp(z, dim=1, keepdim=True)).gather(1, target.unsqueeze(1)).sum()
"""),
        ("lp[:, target] instead of gather", "FAILED", "gather", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior
    return -(z - torch.logsumexp(z, dim=1, keepdim=True))[:, target].mean()
"""),
        ("in place: logits += ...", "FAILED", "in place", IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    logits += tau * log_prior
    return -(logits - torch.logsumexp(logits, dim=1, keepdim=True)).gather(1, target.unsqueeze(1)).mean()
"""),
    ],
    "probabilities.straight_through": [
        ("hard + (soft - soft.detach())", "PASSED", "", _gumbel("hard + (soft - soft.detach())")),
        ("PyTorch's order: hard - soft.detach() + soft", "PASSED", "", _gumbel("hard - soft.detach() + soft")),
        ("torch.where: 1 - s + s on the chosen class, s - s elsewhere", "PASSED", "",
         _gumbel("torch.where(hard > 0, 1 - soft.detach() + soft, soft - soft.detach())")),
        ("hard + soft - soft.detach(): rounds", "FAILED", "order of operations",
         _gumbel("hard + soft - soft.detach()")),
        ("no temperature", "FAILED", "divide by the temperature", IMPORTS + """
def gumbel_hard(logits, noise, tau):
    perturbed = logits + noise
    soft = torch.softmax(perturbed, dim=-1)
    hard = torch.zeros_like(soft).scatter(-1, perturbed.argmax(dim=-1, keepdim=True), 1.0)
    return hard + (soft - soft.detach())
"""),
        ("no noise in the hard sample", "FAILED", "without the noise", IMPORTS + """
def gumbel_hard(logits, noise, tau):
    soft = torch.softmax((logits + noise) / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    return hard + (soft - soft.detach())
"""),
        ("detached: the colleague's bug", "FAILED", "detached", IMPORTS + """
def gumbel_hard(logits, noise, tau):
    return F.one_hot((logits + noise).argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
"""),
    ],
}

VARIANTS["probabilities.logit_adjust"].append(
    ("F.one_hot (torch.nn is forbidden; seen only by reading the code)", "FLAGGED", "torch.nn.functional.one_hot",
     IMPORTS + """
def my_logit_adjusted_loss(logits, target, log_prior, tau):
    z = logits + tau * log_prior
    lp = z - torch.logsumexp(z, 1, keepdim=True)
    return -(lp * F.one_hot(target, z.shape[1]).to(z.dtype)).sum(1).mean()
"""))
