"""Figures in one consistent style.

Every helper builds a fresh figure, detaches it from pyplot (so Jupyter does
not show it a second time and nothing leaks) and returns it; a notebook cell
that ends with the call displays it once. Backgrounds are opaque white so
figures stay readable on a dark-mode page.
"""
from __future__ import annotations

from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import torch

from course_pkg._validation import check_tensor

__all__ = [
    "STYLE", "COLORS", "new_figure", "plot_functions", "plot_histories",
    "plot_regression_fit", "plot_decision_regions",
]

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.dpi": 80,
    "font.size": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "legend.frameon": False,
    "lines.linewidth": 2.0,
}


@contextmanager
def _style():
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6):
    """A styled ``Figure`` and its axes (a single ``Axes`` when 1x1, else a flat list).

    Example:
        >>> fig, ax = new_figure()
        >>> fig.get_facecolor()[:3]
        (1.0, 1.0, 1.0)
    """
    with _style():
        fig = plt.figure(figsize=(width * ncols, height * nrows), layout="constrained")
        # Creating it through pyplot sets up Jupyter's PNG display; closing it
        # keeps pyplot from displaying it again at the end of the cell.
        plt.close(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return fig, axes[0] if len(axes) == 1 else axes


def _np(t):
    return t.detach().cpu().double().numpy()


def plot_functions(functions: dict, o_range=(-6.0, 6.0), *, gradients: bool = False,
                   title: str = "", ylabel: str = "g(o)", points: int = 401):
    r"""Plot transformations :math:`g(o)` over ``o_range``; with ``gradients=True`` also :math:`g'(o)`.

    Derivatives come from autograd on a float64 grid, so what is plotted is
    exactly what backpropagation would use.

    Args:
        functions: mapping label -> callable on a 1-D float tensor.
        o_range: (min, max) of the raw output o.

    Example:
        >>> from course_pkg.transforms import sigmoid
        >>> fig = plot_functions({"sigmoid": sigmoid}, gradients=True)
        >>> len(fig.axes)
        2
    """
    if not isinstance(functions, dict) or not functions:
        raise TypeError("functions must be a non-empty dict label -> callable")
    lo, hi = o_range
    if not lo < hi:
        raise ValueError(f"o_range must be (min, max) with min < max, got {o_range!r}")
    fig, axes = new_figure(ncols=2 if gradients else 1)
    ax_val, ax_grad = (axes if gradients else (axes, None))
    with _style():
        for label, fn in functions.items():
            o = torch.linspace(lo, hi, points, dtype=torch.float64, requires_grad=True)
            out = fn(o)
            ax_val.plot(_np(o), _np(out), label=label)
            if gradients:
                grad = torch.autograd.grad(out.sum(), o)[0] if out.requires_grad else torch.zeros_like(o)
                ax_grad.plot(_np(o), _np(grad), label=label)
        ax_val.set(xlabel="raw output o", ylabel=ylabel, title=title)
        ax_val.legend()
        if gradients:
            ax_grad.set(xlabel="raw output o", ylabel="g'(o)", title="gradient")
            ax_grad.legend()
    return fig


def plot_histories(histories: dict, *, title: str = "training loss", log_y: bool = True):
    """Loss curves, one per labelled run (``History`` objects or lists of floats).

    Example:
        >>> fig = plot_histories({"run": [1.0, 0.5, 0.25]})
        >>> fig.axes[0].get_yscale()
        'log'
    """
    if not isinstance(histories, dict) or not histories:
        raise TypeError("histories must be a non-empty dict label -> History or list of floats")
    fig, ax = new_figure()
    with _style():
        for label, h in histories.items():
            losses = list(getattr(h, "losses", h))
            ax.plot(range(1, len(losses) + 1), losses, label=label)
        ax.set(xlabel="step", ylabel="loss", title=title)
        if log_y:
            ax.set_yscale("log")
        ax.legend()
    return fig


def plot_regression_fit(x: torch.Tensor, y: torch.Tensor, predictions: dict, *, title: str = ""):
    """Scatter 1-D data ``(x, y)`` and draw each model's prediction curve.

    Args:
        x, y: tensors of shape (N, 1).
        predictions: mapping label -> callable ``x -> y_hat`` (e.g. a trained model).

    Example:
        >>> x = torch.linspace(0, 1, 5).unsqueeze(1)
        >>> fig = plot_regression_fit(x, 2 * x, {"2x": lambda t: 2 * t})
    """
    check_tensor(x, "x", floating=True)
    check_tensor(y, "y", floating=True)
    fig, ax = new_figure()
    with _style():
        ax.scatter(_np(x).ravel(), _np(y).ravel(), s=10, color="0.6", label="data")
        grid = torch.linspace(float(x.min()), float(x.max()), 300, device=x.device).unsqueeze(1)
        with torch.no_grad():
            for i, (label, predict) in enumerate(predictions.items()):
                ax.plot(_np(grid).ravel(), _np(predict(grid)).ravel(), color=COLORS[i], label=label)
        ax.set(xlabel="x", ylabel="y", title=title)
        ax.legend()
    return fig


def plot_decision_regions(predict, x: torch.Tensor, y: torch.Tensor, *, title: str = "",
                          probability: bool = False, resolution: int = 200):
    """Colour the 2-D input plane by a classifier's output and overlay the data.

    Args:
        predict: callable ``(M, 2) tensor -> (M,)`` tensor: class labels, or
            with ``probability=True`` P(y=1) in [0, 1] (drawn as a colour map
            with the 0.5 contour as the decision boundary).
        x: inputs (N, 2); y: labels (N,) or (N, 1).

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 1.0]]); y = torch.tensor([0, 1])
        >>> fig = plot_decision_regions(lambda g: (g.sum(1) > 1).long(), x, y)
    """
    check_tensor(x, "x", floating=True, min_dim=2)
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2), got {tuple(x.shape)}")
    fig, ax = new_figure(width=5.0, height=4.2)
    xs = _np(x)
    pad = 0.5
    g0 = torch.linspace(xs[:, 0].min() - pad, xs[:, 0].max() + pad, resolution, dtype=x.dtype, device=x.device)
    g1 = torch.linspace(xs[:, 1].min() - pad, xs[:, 1].max() + pad, resolution, dtype=x.dtype, device=x.device)
    mesh0, mesh1 = torch.meshgrid(g0, g1, indexing="xy")
    with torch.no_grad():
        z = predict(torch.stack([mesh0.ravel(), mesh1.ravel()], dim=1)).reshape(mesh0.shape)
    labels = _np(y.reshape(-1)).astype(int)
    with _style():
        if probability:
            im = ax.contourf(_np(mesh0), _np(mesh1), _np(z), levels=20, cmap="RdBu_r", vmin=0, vmax=1, alpha=0.8)
            ax.contour(_np(mesh0), _np(mesh1), _np(z), levels=[0.5], colors="k", linewidths=1.5)
            fig.colorbar(im, ax=ax, label="P(y = 1 | x)")
        else:
            k = int(max(labels.max(), _np(z).max())) + 1
            cmap = matplotlib.colors.ListedColormap(COLORS[:k])
            ax.contourf(_np(mesh0), _np(mesh1), _np(z), levels=[i - 0.5 for i in range(k + 1)], cmap=cmap, alpha=0.25)
        for c in sorted(set(labels.tolist())):
            pts = xs[labels == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=12, color=COLORS[c % len(COLORS)], edgecolor="white",
                       linewidth=0.4, label=f"class {c}")
        ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
        ax.legend(loc="upper right", fontsize=9)
    return fig
