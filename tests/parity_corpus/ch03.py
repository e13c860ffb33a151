"""Chapter 3, Regression: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.transforms import scale_to_range
from course_pkg.losses import mse
"""

VARIANTS = {
    "regression.scale_to_range": [
        ("torch.sigmoid", "PASSED", "", IMPORTS + """
def to_range(o, low, high):
    return low + (high - low) * torch.sigmoid(o)
"""),
        ("tanh identity", "PASSED", "", IMPORTS + """
def to_range(o, low, high):
    return low + (high - low) * 0.5 * (1 + torch.tanh(o / 2))
"""),
        ("torch.where picking each branch's input", "PASSED", "", IMPORTS + """
def to_range(o, low, high):
    pos = torch.where(o >= 0, o, torch.zeros_like(o))
    neg = torch.where(o < 0, o, torch.zeros_like(o))
    s = torch.where(o >= 0, 1 / (1 + torch.exp(-pos)), torch.exp(neg) / (1 + torch.exp(neg)))
    return low + (high - low) * s
"""),
        ("lerp", "PASSED", "", IMPORTS + """
def to_range(o, low, high):
    return torch.lerp(torch.full_like(o, low), torch.full_like(o, high), torch.sigmoid(o))
"""),
        ("the reference itself", "FLAGGED", "course_pkg.transforms.scale_to_range", IMPORTS + """
to_range = scale_to_range
"""),
        ("the reference first, then an own def", "PASSED", "", IMPORTS + """
to_range = scale_to_range
to_range(torch.zeros(2), 0.0, 1.0)

def to_range(o, low, high):
    return low + (high - low) * torch.sigmoid(o)
"""),
        ("an own def around a saved alias of the reference", "FLAGGED", "0 points when graded", IMPORTS + """
to_range = scale_to_range
old = to_range

def to_range(o, low, high):
    return old(o, low, high)
"""),
        ("a wrapper around the reference", "FLAGGED", "0 points when graded", IMPORTS + """
def to_range(o, low, high):
    return scale_to_range(o, low, high)
"""),
        ("exp(o) / (1 + exp(o)) overflows", "FAILED", "", IMPORTS + """
def to_range(o, low, high):
    return low + (high - low) * torch.exp(o) / (1 + torch.exp(o))
"""),
        ("-|o| branch with slope 0 at 0", "FAILED", "pick each branch's input with torch.where", IMPORTS + """
def to_range(o, low, high):
    e = torch.exp(-o.abs())
    s = torch.where(o >= 0, 1 / (1 + e), e / (1 + e))
    return low + (high - low) * s
"""),
        ("low and high swapped", "FAILED", "", IMPORTS + """
def to_range(o, low, high):
    return high + (low - high) * torch.sigmoid(o)
"""),
        ("in place: o.sigmoid_()", "FAILED", "in place", IMPORTS + """
def to_range(o, low, high):
    return low + (high - low) * o.sigmoid_()
"""),
        ("in place: o -= ...", "FAILED", "in place", IMPORTS + """
def to_range(o, low, high):
    o -= 0
    return low + (high - low) * torch.sigmoid(o)
"""),
    ],
    "regression.fixed_mse": [
        ("reshape(-1)", "PASSED", "", IMPORTS + """
def fixed_mse(pred, target):
    return ((pred.reshape(-1) - target) ** 2).mean()
"""),
        ("squeeze(1)", "PASSED", "", IMPORTS + """
def fixed_mse(pred, target):
    return (pred.squeeze(1) - target).pow(2).mean()
"""),
        ("F.mse_loss on a column target", "PASSED", "", IMPORTS + """
def fixed_mse(pred, target):
    return F.mse_loss(pred, target.unsqueeze(1))
"""),
        ("sum instead of mean", "FAILED", "take their mean", IMPORTS + """
def fixed_mse(pred, target):
    return ((pred.reshape(-1) - target) ** 2).sum()
"""),
        ("the (N, N) broadcast", "FAILED", "make the shapes agree", IMPORTS + """
def fixed_mse(pred, target):
    return ((pred - target) ** 2).mean()
"""),
        ("in place: pred -= target", "FAILED", "in place", IMPORTS + """
def fixed_mse(pred, target):
    pred = pred.reshape(-1)
    pred -= target
    return (pred ** 2).mean()
"""),
    ],
}
