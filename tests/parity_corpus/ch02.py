"""Chapter 2, Trainability: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
from course_pkg.estimators import soft_threshold, straight_through_threshold
"""

VARIANTS = {
    "trainability.ste_threshold": [
        ("hard + (soft - soft.detach())", "PASSED", "", IMPORTS + """
def ste_threshold(o):
    soft = torch.sigmoid(o)
    return (o > 0).to(o.dtype) + (soft - soft.detach())
"""),
        ("PyTorch's order", "PASSED", "", IMPORTS + """
def ste_threshold(o):
    soft = torch.sigmoid(o)
    hard = (o > 0).to(o.dtype)
    return hard - soft.detach() + soft
"""),
        ("a custom autograd Function", "PASSED", "", IMPORTS + """
class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, o):
        ctx.save_for_backward(o)
        return (o > 0).to(o.dtype)

    @staticmethod
    def backward(ctx, g):
        (o,) = ctx.saved_tensors
        s = torch.sigmoid(o)
        return g * s * (1 - s)


def ste_threshold(o):
    return _Step.apply(o)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.estimators.straight_through_threshold", IMPORTS + """
ste_threshold = straight_through_threshold
"""),
        ("o >= 0", "FAILED", "strict", IMPORTS + """
def ste_threshold(o):
    soft = torch.sigmoid(o)
    return (o >= 0).to(o.dtype) + (soft - soft.detach())
"""),
        ("wrong sign", "FAILED", "wrong sign", IMPORTS + """
def ste_threshold(o):
    soft = torch.sigmoid(o)
    return (o > 0).to(o.dtype) + (soft.detach() - soft)
"""),
        ("in place: o.sigmoid_()", "FAILED", "in place", IMPORTS + """
def ste_threshold(o):
    hard = (o > 0).to(o.dtype)
    soft = o.sigmoid_()
    return hard + (soft - soft.detach())
"""),
    ],
    "trainability.prob_above": [
        ("sigmoid((o - at) / T)", "PASSED", "", IMPORTS + """
def prob_above(o, at, temperature):
    return torch.sigmoid((o - at) / temperature)
"""),
        ("tanh identity", "PASSED", "", IMPORTS + """
def prob_above(o, at, temperature):
    return 0.5 * (1 + torch.tanh((o - at) / (2 * temperature)))
"""),
        ("1 - sigmoid((at - o) / T)", "PASSED", "", IMPORTS + """
def prob_above(o, at, temperature):
    return 1 - torch.sigmoid((at - o) / temperature)
"""),
        ("o - at / T", "FAILED", "division binds tighter", IMPORTS + """
def prob_above(o, at, temperature):
    return torch.sigmoid(o - at / temperature)
"""),
        ("temperature multiplies", "FAILED", "multiplies", IMPORTS + """
def prob_above(o, at, temperature):
    return torch.sigmoid((o - at) * temperature)
"""),
        ("a hard comparison", "FAILED", "detached from the graph", IMPORTS + """
def prob_above(o, at, temperature):
    return (o > at).to(o.dtype)
"""),
        ("in place: o -= at", "FAILED", "in place", IMPORTS + """
def prob_above(o, at, temperature):
    o -= at
    return torch.sigmoid(o / temperature)
"""),
    ],
}
