"""Chapter 6, Multi-class classification: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.transforms import log_softmax
from course_pkg.losses import cross_entropy
"""
LOG_SOFTMAX = """
def my_log_softmax(o, dim=-1):
    m = o.amax(dim=dim, keepdim=True)
    return o - m - torch.log(torch.exp(o - m).sum(dim=dim, keepdim=True))
"""

VARIANTS = {
    "multiclass.log_softmax": [
        ("amax shift, exp, sum, log", "PASSED", "", IMPORTS + LOG_SOFTMAX),
        ("max().values with keepdim", "PASSED", "", IMPORTS + """
def my_log_softmax(o, dim=-1):
    shifted = o - o.max(dim=dim, keepdim=True).values
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()
"""),
        ("log of softmax made stably, then log1p-free", "PASSED", "", IMPORTS + """
def my_log_softmax(o, dim=-1):
    m = torch.max(o, dim, keepdim=True)[0]
    lse = m + torch.log(torch.sum(torch.exp(o - m), dim, keepdim=True))
    return o - lse
"""),
        ("torch.logsumexp (forbidden)", "FLAGGED", "torch.logsumexp", IMPORTS + """
def my_log_softmax(o, dim=-1):
    return o - torch.logsumexp(o, dim=dim, keepdim=True)
"""),
        ("Tensor.logsumexp (forbidden)", "FLAGGED", "logsumexp", IMPORTS + """
def my_log_softmax(o, dim=-1):
    return o - o.logsumexp(dim, keepdim=True)
"""),
        ("F.log_softmax (forbidden)", "FLAGGED", "log_softmax", IMPORTS + """
def my_log_softmax(o, dim=-1):
    return F.log_softmax(o, dim=dim)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.transforms.log_softmax", IMPORTS + """
my_log_softmax = log_softmax
"""),
        ("no shift: overflows", "FAILED", "", IMPORTS + """
def my_log_softmax(o, dim=-1):
    return o - torch.log(torch.exp(o).sum(dim=dim, keepdim=True))
"""),
        ("missing keepdim", "ERROR", "keepdim=True", IMPORTS + """
def my_log_softmax(o, dim=-1):
    m = o.amax(dim=dim)
    return o - m - torch.log(torch.exp(o - m).sum(dim=dim))
"""),
        ("one shift for the whole tensor", "FAILED", "", IMPORTS + """
def my_log_softmax(o, dim=-1):
    m = o.max()
    return o - m - torch.log(torch.exp(o - m).sum(dim=dim, keepdim=True))
"""),
        ("dim ignored (always the last)", "FAILED", "dim", IMPORTS + """
def my_log_softmax(o, dim=-1):
    m = o.amax(dim=-1, keepdim=True)
    return o - m - torch.log(torch.exp(o - m).sum(dim=-1, keepdim=True))
"""),
        ("in place: o -= max", "FAILED", "in place", IMPORTS + """
def my_log_softmax(o, dim=-1):
    o -= o.amax(dim=dim, keepdim=True).detach()
    return o - torch.log(torch.exp(o).sum(dim=dim, keepdim=True))
"""),
    ],
    "multiclass.cross_entropy": [
        ("own log_softmax and gather", "PASSED", "", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    return -my_log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).mean()
"""),
        ("arange indexing", "PASSED", "", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    lp = my_log_softmax(logits, dim=-1)
    return -lp[torch.arange(len(target)), target].mean()
"""),
        ("one_hot weights", "PASSED", "", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    lp = my_log_softmax(logits, dim=1)
    return -(F.one_hot(target, logits.shape[1]).to(lp.dtype) * lp).sum(dim=1).mean()
"""),
        ("F.log_softmax + nll_loss (allowed here)", "PASSED", "", IMPORTS + """
def my_cross_entropy(logits, target):
    return F.nll_loss(F.log_softmax(logits, dim=1), target)
"""),
        ("F.cross_entropy (forbidden)", "FLAGGED", "torch.nn.functional.cross_entropy", IMPORTS + """
def my_cross_entropy(logits, target):
    return F.cross_entropy(logits, target)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.cross_entropy", IMPORTS + """
my_cross_entropy = cross_entropy
"""),
        ("sum instead of mean", "FAILED", "the sum over the batch", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    return -my_log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).sum()
"""),
        ("lp[:, target] instead of gather", "FAILED", "gather", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    return -my_log_softmax(logits, dim=1)[:, target].mean()
"""),
        ("1-D only: lp[target]", "ERROR", "one entry per row", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    return -my_log_softmax(logits, dim=-1)[target].mean()
"""),
        ("no mean: one loss per sample", "FAILED", "scalar", IMPORTS + LOG_SOFTMAX + """
def my_cross_entropy(logits, target):
    return -my_log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
"""),
    ],
    "multiclass.fixed_loss": [
        ("F.cross_entropy on raw logits", "PASSED", "", IMPORTS + """
def fixed_loss(logits, target):
    return F.cross_entropy(logits, target)
"""),
        ("CrossEntropyLoss module", "PASSED", "", IMPORTS + """
fixed_loss = torch.nn.CrossEntropyLoss()
"""),
        ("log_softmax + nll_loss", "PASSED", "", IMPORTS + """
def fixed_loss(logits, target):
    return F.nll_loss(torch.log_softmax(logits, dim=1), target)
"""),
        ("softmax left in front", "FAILED", "still applies softmax", IMPORTS + """
def fixed_loss(logits, target):
    return F.cross_entropy(torch.softmax(logits, dim=1), target)
"""),
        ("sum instead of mean", "FAILED", "the sum over the batch", IMPORTS + """
def fixed_loss(logits, target):
    return F.cross_entropy(logits, target, reduction="sum")
"""),
        ("in place: logits -= max", "FAILED", "in place", IMPORTS + """
def fixed_loss(logits, target):
    logits -= 0
    return F.cross_entropy(logits, target)
"""),
    ],
}
