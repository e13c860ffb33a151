"""Chapter 8, Distance-based losses: answer variants with the verdict they must get (see ``__init__.py``)."""
IMPORTS = """
import torch
import torch.nn.functional as F
from course_pkg.transforms import l2_normalize
from course_pkg.embeddings import triplet_loss
"""

VARIANTS = {
    "distance.l2_normalize": [
        ("vector_norm, clamp at eps or the dtype's tiny", "PASSED", "", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True)
    return x / norm.clamp(min=max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("Tensor.norm and clamp_min", "PASSED", "", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return x / x.norm(dim=dim, keepdim=True).clamp_min(max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("torch.maximum with a tensor floor in x's dtype", "PASSED", "", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    floor = torch.tensor(max(eps, torch.finfo(x.dtype).tiny), dtype=x.dtype)
    return x / torch.maximum(torch.linalg.vector_norm(x, dim=dim, keepdim=True), floor)
"""),
        ("F.normalize (forbidden)", "FLAGGED", "torch.nn.functional.normalize", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return F.normalize(x, dim=dim, eps=max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("no keepdim", "FAILED", "keepdim=True", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return x / torch.linalg.vector_norm(x, dim=dim).clamp(min=max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("the norm of the whole tensor", "FAILED", "not over all entries", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return x / torch.linalg.vector_norm(x).clamp(min=max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("||x|| + eps", "FAILED", "the length is ||x|| + eps", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + max(eps, torch.finfo(x.dtype).tiny))
"""),
        ("x.norm(...) + eps", "FAILED", "the length is ||x|| + eps", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    return x / (x.norm(dim=-1, keepdim=True) + eps)
"""),
        ("in place: x /= ...", "FAILED", "in place", IMPORTS + """
def my_l2_normalize(x, dim=-1, eps=1e-12):
    x /= torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp(min=max(eps, torch.finfo(x.dtype).tiny))
    return x
"""),
    ],
    "distance.triplet_loss": [
        ("vector_norm and relu", "PASSED", "", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    d_ap = torch.linalg.vector_norm(anchor - positive, dim=1)
    d_an = torch.linalg.vector_norm(anchor - negative, dim=1)
    return torch.relu(d_ap - d_an + margin).mean()
"""),
        ("Tensor.norm and clamp", "PASSED", "", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    return ((anchor - positive).norm(dim=-1) - (anchor - negative).norm(dim=-1) + margin).clamp(min=0).mean()
"""),
        ("torch.norm and maximum", "PASSED", "", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    hinge = torch.norm(anchor - positive, dim=1) - torch.norm(anchor - negative, dim=1) + margin
    return torch.maximum(hinge, torch.zeros_like(hinge)).mean()
"""),
        ("the reference (forbidden)", "FLAGGED", "triplet_loss, which this exercise forbids", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    return triplet_loss(anchor, positive, negative, margin=margin)
"""),
        ("squared distances", "FAILED", "not squared", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    d_ap = ((anchor - positive) ** 2).sum(dim=1)
    d_an = ((anchor - negative) ** 2).sum(dim=1)
    return torch.relu(d_ap - d_an + margin).mean()
"""),
        ("sum over the triplets", "FAILED", "not the mean", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    d_ap = torch.linalg.vector_norm(anchor - positive, dim=1)
    d_an = torch.linalg.vector_norm(anchor - negative, dim=1)
    return torch.relu(d_ap - d_an + margin).sum()
"""),
        ("in place: anchor -= positive", "FAILED", "in place", IMPORTS + """
def my_triplet_loss(anchor, positive, negative, margin):
    negative = negative - anchor
    anchor -= positive
    return torch.relu(anchor.norm(dim=1) - negative.norm(dim=1) + margin).mean()
"""),
    ],
}
