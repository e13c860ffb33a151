"""Chapter 10, Outputs with structure: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import math
import torch
import torch.nn.functional as F
from course_pkg.transforms import sparsemax
from course_pkg.losses import coral_loss
from course_pkg.inference import predict_angle
"""


def _sparsemax(k="torch.arange(1, o.shape[-1] + 1, dtype=o.dtype)", size="support.sum(dim=-1, keepdim=True)",
               tau="(cs.gather(-1, size - 1) - 1) / size.to(o.dtype)", shift="o - o.amax(dim=-1, keepdim=True)",
               out="torch.clamp(z - tau, min=0)"):
    return IMPORTS + f"""
def my_sparsemax(o):
    z = {shift}
    zs = z.sort(dim=-1, descending=True).values
    cs = zs.cumsum(dim=-1)
    k = {k}
    support = 1 + k * zs > cs
    size = {size}
    tau = {tau}
    return {out}
"""


def _coral(levels="(target.unsqueeze(1) > torch.arange(logits.shape[1])).to(logits.dtype)",
           loss="(levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).sum(dim=1).mean()"):
    return IMPORTS + f"""
def my_coral_loss(logits, target):
    levels = {levels}
    return {loss}
"""


VARIANTS = {
    "structured.sparsemax": [
        ("sort, cumsum, gather", "PASSED", "", _sparsemax()),
        ("no shift, relu", "PASSED", "", _sparsemax(shift="o", out="torch.relu(z - tau)")),
        ("k from arange(n) + 1, support size as a count", "PASSED", "",
         _sparsemax(k="(torch.arange(o.shape[-1]) + 1).to(o.dtype)",
                    size="support.to(torch.int64).sum(-1).unsqueeze(-1)")),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.transforms.sparsemax", IMPORTS + """
my_sparsemax = sparsemax
"""),
        ("k counted from 0", "FAILED", "k counts from 1", _sparsemax(k="torch.arange(o.shape[-1], dtype=o.dtype)")),
        ("support size without keepdim", "FAILED", "keepdim=True", _sparsemax(size="support.sum(dim=-1)")),
        ("1-D only: cs[size - 1]", "FAILED", "gather", _sparsemax(size="support.sum()", tau="(cs[..., size - 1] - 1) / size")),
        ("softmax instead", "FAILED", "this is the softmax", IMPORTS + """
def my_sparsemax(o):
    return torch.softmax(o, dim=-1)
"""),
        ("in place: o -= max", "FAILED", "in place", _sparsemax(shift="o.sub_(o.amax(dim=-1, keepdim=True))")),
    ],
    "structured.coral_loss": [
        ("softplus on both sides", "PASSED", "", _coral()),
        ("BCE with logits, summed over k", "PASSED", "",
         _coral(loss="F.binary_cross_entropy_with_logits(logits, levels, reduction='none').sum(1).mean()")),
        ("logsigmoid", "PASSED", "",
         _coral(levels="(target[:, None] > torch.arange(logits.shape[-1])[None, :]).to(logits.dtype)",
                loss="-(levels * F.logsigmoid(logits) + (1 - levels) * F.logsigmoid(-logits)).sum(-1).mean()")),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.losses.coral_loss", IMPORTS + """
my_coral_loss = coral_loss
"""),
        ("levels for labels 1..K", "FAILED", "shifted by one",
         _coral(levels="(target.unsqueeze(1) > torch.arange(1, logits.shape[1] + 1)).to(logits.dtype)")),
        ("mean over both dimensions", "FAILED", "divides by K-1",
         _coral(loss="(levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).mean()")),
        ("sum over the batch", "FAILED", "do not sum over it",
         _coral(loss="(levels * F.softplus(-logits) + (1 - levels) * F.softplus(logits)).sum()")),
        ("target without unsqueeze", "FAILED", "unsqueeze(1)",
         _coral(levels="(target > torch.arange(logits.shape[1])).to(logits.dtype)")),
    ],
    "structured.angle_from_head": [
        ("atan2 of the columns", "PASSED", "", IMPORTS + """
def angle_from_head(o):
    return torch.atan2(o[:, 1], o[:, 0])
"""),
        ("atan2 with ellipsis", "PASSED", "", IMPORTS + """
def angle_from_head(o):
    return torch.atan2(o[..., 1], o[..., 0])
"""),
        ("unbind", "PASSED", "", IMPORTS + """
def angle_from_head(o):
    c, s = o.unbind(dim=-1)
    return torch.atan2(s, c)
"""),
        ("the reference (forbidden)", "FLAGGED", "course_pkg.inference.predict_angle", IMPORTS + """
angle_from_head = predict_angle
"""),
        ("atan2 arguments swapped", "FAILED", "swapped", IMPORTS + """
def angle_from_head(o):
    return torch.atan2(o[:, 0], o[:, 1])
"""),
        ("atan of the ratio", "FAILED", "two quadrants", IMPORTS + """
def angle_from_head(o):
    return torch.atan(o[:, 1] / o[:, 0])
"""),
        ("degrees", "FAILED", "radians", IMPORTS + """
def angle_from_head(o):
    return torch.rad2deg(torch.atan2(o[:, 1], o[:, 0]))
"""),
    ],
}
