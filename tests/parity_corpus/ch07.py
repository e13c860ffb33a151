"""Chapter 7, Best practices: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.inference import predict_multiclass as reference_predict
"""

VARIANTS = {
    "practices.predict_multiclass": [
        ("softmax and argmax", "PASSED", "", IMPORTS + """
def predict_multiclass(logits):
    return torch.softmax(logits, dim=-1), logits.argmax(dim=-1)
"""),
        ("F.softmax over dim 1", "PASSED", "", IMPORTS + """
def predict_multiclass(logits):
    return F.softmax(logits, dim=1), torch.argmax(logits, dim=1)
"""),
        ("exp of log_softmax", "PASSED", "", IMPORTS + """
def predict_multiclass(logits):
    probs = torch.log_softmax(logits, dim=-1).exp()
    return probs, probs.argmax(dim=-1)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.inference.predict_multiclass", IMPORTS + """
predict_multiclass = reference_predict
"""),
        ("softmax over the batch", "FAILED", "not over the batch", IMPORTS + """
def predict_multiclass(logits):
    return torch.softmax(logits, dim=0), logits.argmax(dim=-1)
"""),
        ("exp without a shift", "FAILED", "", IMPORTS + """
def predict_multiclass(logits):
    e = logits.exp()
    return e / e.sum(dim=-1, keepdim=True), logits.argmax(dim=-1)
"""),
        ("in place: logits -= max", "FAILED", "in place", IMPORTS + """
def predict_multiclass(logits):
    logits -= logits.amax(dim=-1, keepdim=True)
    return torch.softmax(logits, dim=-1), logits.argmax(dim=-1)
"""),
    ],
    "practices.loss_fn": [
        ("F.cross_entropy", "PASSED", "", IMPORTS + """
def loss_fn(logits, y):
    return F.cross_entropy(logits, y)
"""),
        ("CrossEntropyLoss module", "PASSED", "", IMPORTS + """
loss_fn = torch.nn.CrossEntropyLoss()
"""),
        ("log_softmax + nll_loss", "PASSED", "", IMPORTS + """
def loss_fn(logits, y):
    return F.nll_loss(F.log_softmax(logits, dim=-1), y)
"""),
        ("softmax twice", "FAILED", "softmax twice", IMPORTS + """
def loss_fn(logits, y):
    return F.cross_entropy(torch.softmax(logits, dim=-1), y)
"""),
        ("sum instead of mean", "FAILED", "not the mean", IMPORTS + """
def loss_fn(logits, y):
    return F.cross_entropy(logits, y, reduction="sum")
"""),
        ("NLL on probabilities", "FAILED", "log-probabilities", IMPORTS + """
def loss_fn(logits, y):
    return F.nll_loss(torch.softmax(logits, dim=-1), y)
"""),
    ],
}
