"""Chapter 5, Binary classification: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import math
import torch
import torch.nn.functional as F
from course_pkg.losses import bce_with_logits
from course_pkg.decisions import predict_labels
"""
CHECK = """
def _same_shape(z, y):
    if z.shape != y.shape:
        raise ValueError("logits and target must have the same shape")
"""

VARIANTS = {
    "binary.bce_with_logits": [
        ("softplus(z) - y*z", "PASSED", "", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return (F.softplus(z) - y * z).mean()
"""),
        ("(1 - y)*z + softplus(-z)", "PASSED", "", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return ((1 - y) * z + F.softplus(-z)).mean()
"""),
        ("logaddexp", "PASSED", "", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return (torch.logaddexp(torch.zeros_like(z), z) - y * z).mean()
"""),
        ("logsigmoid on both sides", "PASSED", "", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()
"""),
        ("PyTorch's loss (forbidden)", "FLAGGED", "binary_cross_entropy_with_logits", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return F.binary_cross_entropy_with_logits(z, y)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.bce_with_logits", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return bce_with_logits(z, y)
"""),
        ("PyTorch's stable formula with clamp and abs", "FAILED", "clamp at its bound the slope of one side",
         IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()
"""),
        ("sum instead of mean", "FAILED", "mean reduction", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    return (F.softplus(z) - y * z).sum()
"""),
        ("sigmoid then log: overflows", "FAILED", "", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
"""),
        ("an assert instead of a ValueError", "FAILED", "AssertionError", IMPORTS + """
def my_bce_with_logits(z, y):
    assert z.shape == y.shape
    return (F.softplus(z) - y * z).mean()
"""),
        ("in place: z.clamp_(...)", "FAILED", "in place", IMPORTS + CHECK + """
def my_bce_with_logits(z, y):
    _same_shape(z, y)
    z -= 0.0
    return (F.softplus(z) - y * z).mean()
"""),
    ],
    "binary.fixed_loss": [
        ("softplus(z) - y*z", "PASSED", "", IMPORTS + """
def fixed_loss(z, y):
    return (F.softplus(z) - y * z).mean()
"""),
        ("F.binary_cross_entropy_with_logits", "PASSED", "", IMPORTS + """
def fixed_loss(z, y):
    return F.binary_cross_entropy_with_logits(z, y)
"""),
        ("BCEWithLogitsLoss module", "PASSED", "", IMPORTS + """
fixed_loss = torch.nn.BCEWithLogitsLoss()
"""),
        ("the bug left in: BCELoss(sigmoid(z))", "FAILED", "sigmoid is still applied", IMPORTS + """
def fixed_loss(z, y):
    return torch.nn.BCELoss()(torch.sigmoid(z), y)
"""),
        ("sigmoid before the logits loss", "FAILED", "applies its own", IMPORTS + """
def fixed_loss(z, y):
    return F.binary_cross_entropy_with_logits(torch.sigmoid(z), y)
"""),
        ("in place: z.sigmoid_()", "FAILED", "in place", IMPORTS + """
def fixed_loss(z, y):
    return torch.nn.BCELoss()(z.sigmoid_(), y)
"""),
    ],
    "binary.predict_labels": [
        ("compare the logit in float64", "PASSED", "", IMPORTS + """
def my_predict_labels(z, t):
    return (z.double() > math.log(t / (1 - t))).long()
"""),
        ("log(t) - log1p(-t) in float64, bool", "PASSED", "", IMPORTS + """
def my_predict_labels(z, t):
    return z.to(torch.float64) > math.log(t) - math.log1p(-t)
"""),
        ("torch.logit of a float64 threshold", "PASSED", "", IMPORTS + """
def my_predict_labels(z, t):
    return (z.double() > torch.logit(torch.tensor(t, dtype=torch.float64))).to(torch.int64)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg", IMPORTS + """
my_predict_labels = predict_labels
"""),
        ("through a float32 sigmoid", "FAILED", "instead of rounding through a sigmoid", IMPORTS + """
def my_predict_labels(z, t):
    return (torch.sigmoid(z) > t).long()
"""),
        ("float32 cut", "FAILED", "compare in float64", IMPORTS + """
def my_predict_labels(z, t):
    return (z > math.log(t / (1 - t))).long()
"""),
        ("probabilities instead of labels", "FAILED", "only 0 and 1", IMPORTS + """
def my_predict_labels(z, t):
    return torch.sigmoid(z)
"""),
    ],
}
