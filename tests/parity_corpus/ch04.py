"""Chapter 4, Positive-only regression: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.transforms import softplus
"""
WHERE = """
def {name}(o):
    a = torch.where(o > 0, -o, o)                      # -|o|, with slope +1 at o = 0 (torch.where picks o)
    return torch.where(o > 0, o, torch.zeros_like(o)) + torch.log1p(torch.exp(a))
"""

VARIANTS = {
    "positive.softplus": [
        ("logaddexp(o, 0)", "PASSED", "", IMPORTS + """
def my_softplus(o):
    return torch.logaddexp(o, torch.zeros_like(o))
"""),
        ("torch.where picking each branch's input", "PASSED", "", IMPORTS + WHERE.format(name="my_softplus")),
        ("-logsigmoid(-o)", "PASSED", "", IMPORTS + """
def my_softplus(o):
    return -F.logsigmoid(-o)
"""),
        ("F.softplus (forbidden, and linear above 20)", "FAILED", "no linear switch", IMPORTS + """
def my_softplus(o):
    return F.softplus(o)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.transforms.softplus", IMPORTS + """
my_softplus = softplus
"""),
        ("log(1 + exp(o)) overflows", "FAILED", "", IMPORTS + """
def my_softplus(o):
    return torch.log(1 + torch.exp(o))
"""),
        ("relu + log1p(exp(-|o|)): slope 1/2 lost at 0", "FAILED", "torch.where", IMPORTS + """
def my_softplus(o):
    return torch.relu(o) + torch.log1p(torch.exp(-o.abs()))
"""),
        ("in place: o.exp_()", "FAILED", "in place", IMPORTS + """
def my_softplus(o):
    return torch.logaddexp(o, o.mul_(0))
"""),
    ],
    "positive.positive_head": [
        ("F.softplus", "PASSED", "", IMPORTS + """
def positive_head(o):
    return F.softplus(o)
"""),
        ("logaddexp(o, 0)", "PASSED", "", IMPORTS + """
def positive_head(o):
    return torch.logaddexp(o, torch.zeros_like(o))
"""),
        ("torch.where form", "PASSED", "", IMPORTS + WHERE.format(name="positive_head")),
        ("relu dies", "FAILED", "dies like ReLU", IMPORTS + """
def positive_head(o):
    return torch.relu(o)
"""),
        ("exp(o) unguarded", "FAILED", "overflows", IMPORTS + """
def positive_head(o):
    return torch.log(1 + torch.exp(o))
"""),
        ("in place: o.clamp_()", "FAILED", "in place", IMPORTS + """
def positive_head(o):
    return F.softplus(o.clamp_(min=-1e4))
"""),
    ],
}
