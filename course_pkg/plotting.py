"""Figures in one consistent style.

Every helper builds a fresh figure, detaches it from pyplot (so Jupyter does
not show it a second time and nothing leaks) and returns it; a notebook cell
that ends with the call displays it once. Backgrounds are opaque white so
figures stay readable on a dark-mode page.

Sizes are chosen for the page the book is read on. A figure is at most
:data:`COLUMN_WIDTH` inches wide (the text column of the site at laptop width,
688 CSS pixels at :data:`DISPLAY_DPI`), so it is shown at its own size, never
scaled down, and every text in it is at least :data:`MIN_FONT_PT` points: at
least 80 % of the site's 16 px body text. In Jupyter (and so in the book) a
figure is stored as a PNG with twice as many pixels as it is displayed with
("retina"), so it stays sharp on high-density screens and when zoomed in.
Legends have an opaque frame, or sit outside the axes where they would cover
data.
"""
from __future__ import annotations

from contextlib import contextmanager

import matplotlib
import matplotlib.figure
import matplotlib.pyplot as plt
import torch

from course_pkg._validation import check_tensor
from course_pkg.gradients import loss_and_gradient

__all__ = [
    "STYLE", "COLORS", "CourseFigure", "new_figure", "plot_functions", "plot_histories",
    "plot_regression_fit", "plot_decision_regions", "plot_bars", "plot_loss_vs_logit",
    "plot_reliability_diagram", "plot_mean_std_band", "plot_embeddings", "plot_distance_histograms",
    "plot_conditional_density", "plot_quantile_curves",
]

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

# One inch of a figure is DISPLAY_DPI CSS pixels on the page (the PNG holds twice as many, see _retina_png).
DISPLAY_DPI = 96
# The site's text column at laptop width (1280 px window): 688 CSS pixels. No figure is wider, so none is shrunk.
COLUMN_WIDTH = 688 / DISPLAY_DPI
# The smallest text in any figure, in points: 10 pt at 96 dpi is 13.3 px, 83 % of the 16 px body text.
MIN_FONT_PT = 10.0

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.dpi": DISPLAY_DPI,
    "savefig.dpi": "figure",
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "figure.titlesize": 12,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    # An opaque frame: a legend over a curve or a coloured region stays legible.
    "legend.frameon": True,
    "legend.framealpha": 0.92,
    "legend.facecolor": "white",
    "legend.edgecolor": "0.75",
    "legend.fancybox": False,
    "legend.markerscale": 2.0,
    "lines.linewidth": 2.0,
}


class CourseFigure(matplotlib.figure.Figure):
    """A matplotlib Figure whose text form describes it in words.

    Jupyter stores that text beside the PNG; ``make refresh`` copies it into the
    cell's image alt text, so every figure in the book has a description
    derived from its own titles, axis labels and legend entries.
    """

    def describe(self) -> str:
        panels = []
        for ax in self.axes:
            if not ax.get_visible() or ax.get_label() == "<colorbar>":
                continue
            title = ax.get_title() or "untitled panel"
            text = f"'{title}'"
            if ax.get_xlabel() or ax.get_ylabel():
                text += f" ({ax.get_ylabel() or 'value'} against {ax.get_xlabel() or 'index'})"
            handles, labels = ax.get_legend_handles_labels()
            if labels:
                text += ", showing " + ", ".join(labels)
            panels.append(text)
        kind = "Figure" if len(panels) == 1 else f"Figure with {len(panels)} panels"
        return f"{kind}: " + "; ".join(panels) + "."

    def __repr__(self) -> str:
        return self.describe()


@contextmanager
def _style():
    with matplotlib.rc_context(STYLE):
        yield


def _legend_below(fig, ax, axes=None, ncol: int | None = None):
    """One legend for ``ax``'s labelled artists (the same in every panel of ``axes``), below the figure's panels,
    where it cannot cover a curve, a point or a coloured region."""
    handles, names = ax.get_legend_handles_labels()
    if not names:
        return
    if ncol is None:  # as many columns as fit the figure's width (an entry: its marker, then its text)
        entry = max(1.0 + 0.6 * MIN_FONT_PT / 72 * len(name) for name in names)
        ncol = max(1, min(len(names), int(fig.get_figwidth() // entry)))
    fig.legend(handles, names, loc="outside lower center", ncol=ncol)


def _retina_png(fig):
    """The figure as a PNG with twice the pixels it is displayed with, and the display size (CSS px) for Jupyter."""
    from IPython.core.pylabtools import retina_figure
    return retina_figure(fig, base64=True)


def _register_retina_display() -> bool:
    """In a Jupyter kernel, show every course figure as a retina PNG (2x pixels, displayed at 1x).

    The PNG's ``width``/``height`` metadata is its display size, which myst-nb
    writes into the page's ``<img>``, so a figure is as sharp on a
    high-density screen, or zoomed in, as a vector image, at a fraction of the
    size an SVG of a scatter plot or a density map would take. Only
    :class:`CourseFigure` is affected, not other matplotlib figures. Returns
    whether a kernel was found.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    shell.display_formatter.formatters["image/png"].for_type(CourseFigure, _retina_png)
    return True


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.6):
    """A styled ``Figure`` and its axes (a single ``Axes`` when 1x1, else a flat list).

    ``width`` and ``height`` are one panel's size in inches; panels side by side
    share :data:`COLUMN_WIDTH`, so the figure is never wider than the page's text
    column (and never shown scaled down).

    Example:
        >>> fig, ax = new_figure()
        >>> fig.get_facecolor()[:3]
        (1.0, 1.0, 1.0)
        >>> bool(new_figure(ncols=3)[0].get_figwidth() <= COLUMN_WIDTH)
        True
    """
    for name, value in (("ncols", ncols), ("nrows", nrows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    width = min(width, COLUMN_WIDTH / ncols)
    with _style():
        fig = plt.figure(figsize=(width * ncols, height * nrows), layout="constrained", FigureClass=CourseFigure)
        # Creating it through pyplot sets up Jupyter's PNG display; closing it
        # keeps pyplot from displaying it again at the end of the cell.
        plt.close(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return fig, axes[0] if len(axes) == 1 else axes


def _check_range(o_range) -> tuple:
    lo, hi = o_range
    if not lo < hi:
        raise ValueError(f"o_range must be (min, max) with min < max, got {o_range!r}")
    return lo, hi


def _np(t):
    return t.detach().cpu().double().numpy()


def _derivative(out: torch.Tensor, o: torch.Tensor):
    """``(d sum(out) / d o, None)``, or ``(None, reason)`` when autograd has no gradient to give."""
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return None, "not in the graph"
    try:
        return torch.autograd.grad(out.sum(), o)[0], None
    except RuntimeError:
        return None, "no backward formula"


def plot_functions(functions: dict, o_range=(-6.0, 6.0), *, gradients: bool = False,
                   title: str = "", ylabel: str = "g(o)", grad_ylabel: str = "g'(o)",
                   xlabel: str = "raw output o", points: int = 401):
    r"""Plot transformations :math:`g(o)` over ``o_range``; with ``gradients=True`` also :math:`g'(o)`.

    Derivatives come from autograd on a float64 grid, so what is plotted is
    exactly what backpropagation would use (in float64). A function autograd
    cannot differentiate gets *no* curve in the gradient panel, only a legend
    entry saying why: "not in the graph" (its output does not require grad,
    e.g. a comparison ``o > 0``) or "no backward formula" (e.g.
    ``torch.heaviside``). A gradient that autograd does return, even one that
    is 0 everywhere (``torch.round``), is drawn. ``grad_ylabel`` names the
    plotted derivative (for a loss curve, :math:`\partial L / \partial o`).

    Args:
        functions: mapping label -> callable on a 1-D float tensor.
        o_range: (min, max) of the raw output o.

    Example:
        >>> from course_pkg.transforms import sigmoid, threshold
        >>> fig = plot_functions({"sigmoid": sigmoid, "step": threshold}, gradients=True)
        >>> [len(line.get_xdata()) for line in fig.axes[1].lines]   # no curve for the step
        [401, 0]
        >>> fig.axes[1].get_legend_handles_labels()[1]
        ['sigmoid', 'step: no gradient (not in the graph)']
    """
    if not isinstance(functions, dict) or not functions:
        raise TypeError("functions must be a non-empty dict label -> callable")
    lo, hi = _check_range(o_range)
    fig, axes = new_figure(ncols=2 if gradients else 1)
    ax_val, ax_grad = (axes if gradients else (axes, None))
    missing = {}
    with _style():
        for i, (label, fn) in enumerate(functions.items()):
            color = COLORS[i % len(COLORS)]  # explicit, so a function without a gradient curve keeps its colour
            o = torch.linspace(lo, hi, points, dtype=torch.float64, requires_grad=True)
            out = fn(o)
            ax_val.plot(_np(o), _np(out), color=color, label=label)
            if gradients:
                grad, reason = _derivative(out, o)
                if grad is None:
                    text = f"{label}: no gradient ({reason})"
                    missing[text] = color
                    ax_grad.plot([], [], linestyle="none", color=color, label=text)  # legend entry, no curve
                else:
                    ax_grad.plot(_np(o), _np(grad), color=color, label=label)
        ax_val.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax_val.legend()
        if gradients:
            ax_grad.set(xlabel=xlabel, ylabel=grad_ylabel, title="gradient")
            for entry in ax_grad.legend().get_texts():
                if entry.get_text() in missing:
                    entry.set_color(missing[entry.get_text()])
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
        _legend_below(fig, ax)  # loss curves fill the axes: any place inside would cover one
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
        _legend_below(fig, ax)  # below the plane: no class colour or probability shade behind its text
    return fig


def plot_bars(values: dict, *, title: str = "", ylabel: str = "value", log_y: bool = False,
              annotate: bool = True, none_label: str = "none", legend_loc: str = "best"):
    """Bar chart of named numbers; grouped bars when each value is itself a dict ``series -> number``.

    ``values`` maps a category to a number (one bar each) or to a dict
    ``{series: number}`` (one bar per series, side by side; every category
    should use the same series names, which form the legend). With
    ``log_y=True`` the y axis is logarithmic; a bar whose value is 0 or not
    finite cannot be drawn there and is marked by its text (``"0"``,
    ``"nan"``) at the bottom of the axes. A value ``None`` means the quantity
    does not exist (for example a gradient that cannot be computed): no bar is
    drawn and ``none_label`` marks its place, so it is never shown as 0.
    ``annotate`` writes each value above its bar (3 significant digits).
    ``legend_loc`` is a matplotlib legend location, or ``"below"`` for one
    legend under the axes, where it cannot cover a bar.

    Example:
        >>> fig = plot_bars({"bug": {"grad": 0.1}, "fix": {"grad": 1.0}}, log_y=True)
        >>> len(fig.axes[0].patches)
        2
    """
    import math

    if not isinstance(values, dict) or not values:
        raise TypeError("values must be a non-empty dict category -> number or dict series -> number")
    grouped = all(isinstance(v, dict) for v in values.values())
    if not grouped and any(isinstance(v, dict) for v in values.values()):
        raise TypeError("values must map every category to a number, or every category to a dict")
    table = values if grouped else {k: {"": v} for k, v in values.items()}
    series = []
    for row in table.values():
        for name in row:
            if name not in series:
                series.append(name)
    for cat, row in table.items():
        for name, v in row.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise TypeError(f"value for {cat!r}/{name!r} must be a number or None, got {type(v).__name__}")
    cats = list(table)
    width = 0.8 / len(series)
    fig, ax = new_figure(width=max(5.0, 1.1 * len(cats) + 1.5), height=3.8 + 0.1 * len(cats))
    missing = []
    with _style():
        for j, name in enumerate(series):
            xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(cats))]
            vals = [table[c].get(name, float("nan")) for c in cats]
            drawable = [v if v is not None and math.isfinite(v) and (v > 0 or not log_y) else 0.0 for v in vals]
            ax.bar(xs, drawable, width=width * 0.95, color=COLORS[j % len(COLORS)], label=name or None)
            for xpos, v, d in zip(xs, vals, drawable):
                if v is None or (d == 0.0 and (log_y or not math.isfinite(v))):
                    missing.append((xpos, v))
                elif annotate:
                    ax.annotate(f"{v:.3g}", (xpos, d), ha="center", va="bottom", fontsize=MIN_FONT_PT,
                                xytext=(0, 2), textcoords="offset points")
        if log_y:
            ax.set_yscale("log")
        ax.set_xticks(range(len(cats)), cats, rotation=20, ha="right")
        ax.set(ylabel=ylabel, title=title)
        bottom = ax.get_ylim()[0]
        for xpos, v in missing:
            text = none_label if v is None else "0" if v == 0 else f"{v}"
            ax.annotate(text, (xpos, bottom), ha="center", va="bottom", fontsize=MIN_FONT_PT,
                        xytext=(0, 2), textcoords="offset points", color="0.3")
        if len(series) > 1 or series[0]:
            if legend_loc == "below":
                handles, names = ax.get_legend_handles_labels()
                fig.legend(handles, names, loc="outside lower center", ncol=min(len(names), 2))
            else:
                ax.legend(loc=legend_loc)
    return fig


def plot_loss_vs_logit(losses: dict, target: float, o_range=(-10.0, 30.0), *, dtype=torch.float32,
                       title: str = "", points: int = 241):
    r"""Loss :math:`\ell(z, y)` and its derivative :math:`\partial\ell/\partial z` against one logit ``z``.

    Each loss is called on one-element tensors of ``dtype`` (float32 by
    default, as in training), point by point, so rounding and clamping inside
    the loss show up exactly as training would meet them.

    Args:
        losses: mapping label -> ``loss_fn(logits, target)`` returning a scalar tensor.
        target: the fixed label ``y`` (for example 0.0).
        o_range: (min, max) of the logit.

    Example:
        >>> from course_pkg.losses import bce_with_logits
        >>> fig = plot_loss_vs_logit({"BCE with logits": bce_with_logits}, 0.0, points=5)
        >>> len(fig.axes)
        2
    """
    if not isinstance(losses, dict) or not losses:
        raise TypeError("losses must be a non-empty dict label -> loss_fn(logits, target)")
    lo, hi = _check_range(o_range)
    zs = torch.linspace(lo, hi, points, dtype=torch.float64).tolist()
    fig, (ax_val, ax_grad) = new_figure(ncols=2)
    with _style():
        for i, (label, fn) in enumerate(losses.items()):
            pairs = [loss_and_gradient(fn, z, target, dtype=dtype) for z in zs]
            style = {"linestyle": "--" if i % 2 else "-", "color": COLORS[i % len(COLORS)]}
            ax_val.plot(zs, [p[0] for p in pairs], label=label, **style)
            ax_grad.plot(zs, [p[1] for p in pairs], label=label, **style)
        ax_val.set(xlabel="logit z", ylabel=f"loss at y = {target:g}", title=title or "loss")
        ax_grad.set(xlabel="logit z", ylabel="d loss / dz", title="gradient reaching the logit")
        ax_val.legend()
        ax_grad.legend()
    return fig


def plot_reliability_diagram(panels: dict, *, n_bins: int = 15, title: str = "", show_counts: bool = True):
    r"""Reliability diagrams, one above the other: per-bin accuracy against per-bin confidence.

    For each panel the confidences :math:`\max_k p_{nk}` are binned as in
    :func:`course_pkg.calibration.reliability_curve`; bars show each bin's
    accuracy, a red segment its gap to the bin's mean confidence, and the
    diagonal is perfect calibration. Bars *below* the diagonal mean
    over-confidence. The panel title carries the ECE. With ``show_counts``
    (the default) each non-empty bin is labelled with its number of samples,
    so a bar resting on three samples is not read like one resting on three
    thousand. The panels are stacked (they share the confidence axis), each as
    wide as the page's text column, so the counts fit over their bars,
    horizontally, at the figure's smallest text size.

    Args:
        panels: mapping label -> ``(probs, labels)`` with ``probs`` (N, C) and ``labels`` (N,) int64.
        n_bins: number of equal-width confidence bins.
        show_counts: write each bin's sample count above it.

    Example:
        >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4]]); y = torch.tensor([0, 1])
        >>> fig = plot_reliability_diagram({"model": (p, y)}, n_bins=5)
        >>> len(fig.axes), [t.get_text() for t in fig.axes[0].texts]
        (1, ['1', '1'])
    """
    from course_pkg.calibration import expected_calibration_error, reliability_curve

    if not isinstance(panels, dict) or not panels:
        raise TypeError("panels must be a non-empty dict label -> (probs, labels)")
    if not isinstance(show_counts, bool):
        raise TypeError(f"show_counts must be a bool, got {type(show_counts).__name__}")
    fig, axes = new_figure(nrows=len(panels), width=COLUMN_WIDTH, height=2.5)
    axes = axes if isinstance(axes, list) else [axes]
    with _style():
        for ax, (label, (probs, labels)) in zip(axes, panels.items()):
            curve = reliability_curve(probs, labels, n_bins)
            ece = expected_calibration_error(probs, labels, n_bins).item()
            edges, width = _np(curve.edges), 1.0 / n_bins
            acc, conf = _np(curve.accuracy), _np(curve.confidence)
            keep = _np(curve.counts) > 0
            ax.bar(edges[:-1][keep], acc[keep], width=width, align="edge", color=COLORS[0], alpha=0.8,
                   edgecolor="white", label="accuracy in bin")
            centers = edges[:-1][keep] + width / 2
            ax.vlines(centers, acc[keep], conf[keep], colors=COLORS[1], linewidth=3, label="gap to confidence")
            ax.plot([0, 1], [0, 1], linestyle="--", color="0.3", linewidth=1.2, label="perfect calibration")
            if show_counts:
                tops = [max(a, c) for a, c in zip(acc[keep], conf[keep])]
                for xpos, top, count in zip(centers, tops, _np(curve.counts)[keep]):
                    ax.annotate(f"{int(count)}", (xpos, top), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize=MIN_FONT_PT)
                ax.plot([], [], linestyle="none", label="number over a bin: its samples")  # a legend line, no mark
            ax.set(xlim=(0, 1), ylim=(0, 1.3 if show_counts else 1.05), xlabel="confidence (max probability)",
                   ylabel="accuracy", title=f"{label}: ECE = {ece:.3f}")
            ax.set_yticks([0.0, 0.5, 1.0])
        for ax in axes[:-1]:  # the stacked panels share the confidence axis: labelled once, at the bottom
            ax.tick_params(labelbottom=False)
            ax.xaxis.label.set_visible(False)
        # one legend for all panels, below them, where it cannot cover a bar or a count
        _legend_below(fig, axes[0], axes, ncol=2)
        if title:
            fig.suptitle(title)
    return fig


def plot_mean_std_band(x: torch.Tensor, y: torch.Tensor, predict, *, k: float = 2.0, true_std=None,
                       true_mean=None, title: str = ""):
    r"""1-D data with a predicted mean and a band :math:`\mu(x) \pm k\,\sigma(x)`.

    Args:
        x, y: tensors of shape (N, 1).
        predict: callable ``grid (M, 1) -> (mean, std)``, each (M, 1).
        k: half-width of the band in standard deviations (2 covers about 95 % of a Gaussian).
        true_mean, true_std: optional callables ``grid -> (M, 1)``; draws the true band dashed.

    Example:
        >>> x = torch.linspace(0, 1, 5).unsqueeze(1)
        >>> fig = plot_mean_std_band(x, x, lambda t: (t, 0.1 + 0 * t))
    """
    check_tensor(x, "x", floating=True)
    check_tensor(y, "y", floating=True)
    for name, t in (("x", x), ("y", y)):
        if t.dim() != 2 or t.shape[1] != 1:
            raise ValueError(f"{name} must have shape (N, 1), got {tuple(t.shape)}")
    fig, ax = new_figure(width=6.0, height=3.8)
    grid = torch.linspace(float(x.min()), float(x.max()), 300, dtype=x.dtype, device=x.device).unsqueeze(1)
    with torch.no_grad():
        mean, std = predict(grid)
    g, m, s = _np(grid).ravel(), _np(mean).ravel(), _np(std).ravel()
    with _style():
        ax.scatter(_np(x).ravel(), _np(y).ravel(), s=8, color="0.6", label="data")
        ax.fill_between(g, m - k * s, m + k * s, color=COLORS[0], alpha=0.25, label=f"mean ± {k:g} std (model)")
        ax.plot(g, m, color=COLORS[0], label="predicted mean")
        if true_std is not None and true_mean is not None:
            with torch.no_grad():
                tm, ts = _np(true_mean(grid)).ravel(), _np(true_std(grid)).ravel()
            ax.plot(g, tm - k * ts, color=COLORS[1], linestyle="--", linewidth=1.2, label=f"true mean ± {k:g} std")
            ax.plot(g, tm + k * ts, color=COLORS[1], linestyle="--", linewidth=1.2)
        ax.set(xlabel="x", ylabel="y", title=title)
        ax.legend(loc="upper left")
    return fig


# ---------------------------------------------------------------- outputs with structure

__all__ += ["plot_curves", "plot_angles"]  # chapter "Outputs with structure"


def plot_curves(x: torch.Tensor, panels: dict, *, xlabel: str = "x", ylabel: str = "value", title: str = ""):
    """Curves over a shared 1-D grid, one panel per entry, panels side by side with a shared y axis.

    Args:
        x: the grid, a 1-D tensor of M points.
        panels: mapping panel title -> {curve label: tensor of M values}.
        xlabel, ylabel: axis labels; title: an optional figure title.

    Example:
        >>> x = torch.linspace(0, 1, 5)
        >>> fig = plot_curves(x, {"a": {"x": x, "x^2": x ** 2}, "b": {"1 - x": 1 - x}})
        >>> len(fig.axes), [len(ax.lines) for ax in fig.axes]
        (2, [2, 1])
    """
    check_tensor(x, "x", floating=True)
    if x.dim() != 1:
        raise ValueError(f"x must be a 1-D grid, got shape {tuple(x.shape)}")
    if not isinstance(panels, dict) or not panels or not all(isinstance(c, dict) and c for c in panels.values()):
        raise TypeError("panels must be a non-empty dict panel title -> non-empty dict label -> values")
    fig, axes = new_figure(ncols=len(panels), width=4.4, height=3.6)
    axes = axes if isinstance(axes, list) else [axes]
    with _style():
        for ax, (panel, curves) in zip(axes, panels.items()):
            for i, (label, values) in enumerate(curves.items()):
                ax.plot(_np(x), _np(values).ravel(), color=COLORS[i % len(COLORS)], label=label)
            ax.set(xlabel=xlabel, ylabel=ylabel, title=panel)
            ax.legend()
        lows, highs = zip(*(ax.get_ylim() for ax in axes))
        for ax in axes:
            ax.set_ylim(min(lows), max(highs))
        if title:
            fig.suptitle(title)
    return fig


def plot_angles(x: torch.Tensor, theta: torch.Tensor, predictions: dict, *, title: str = ""):
    r"""Angle-valued 1-D data :math:`\theta(x) \in [-\pi, \pi]` with each model's predicted angle.

    A predicted curve is broken wherever it jumps by more than :math:`\pi`
    between neighbouring grid points (a wrap from :math:`+\pi` to
    :math:`-\pi`), so no vertical line is drawn across the plot: a curve that
    *does* cross the plot is a prediction passing through the angles between.

    Args:
        x: inputs (N, 1); theta: angles (N,) or (N, 1) in radians.
        predictions: mapping label -> callable ``grid (M, 1) -> angles (M,)``.

    Example:
        >>> x = torch.linspace(-1, 1, 9).unsqueeze(1)
        >>> fig = plot_angles(x, 3 * x.squeeze(1), {"3x": lambda t: 3 * t.squeeze(1)})
    """
    import math

    check_tensor(x, "x", floating=True)
    check_tensor(theta, "theta", floating=True)
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1), got {tuple(x.shape)}")
    if theta.numel() != x.shape[0]:
        raise ValueError(f"theta must hold one angle per input, got {theta.numel()} for {x.shape[0]} inputs")
    fig, ax = new_figure(width=6.0, height=3.8)
    grid = torch.linspace(float(x.min()), float(x.max()), 400, device=x.device).unsqueeze(1)
    with _style():
        ax.scatter(_np(x).ravel(), _np(theta).ravel(), s=8, color="0.6", label="data")
        with torch.no_grad():
            for i, (label, predict) in enumerate(predictions.items()):
                g, a = _np(grid).ravel(), _np(predict(grid)).ravel().copy()
                jumps = (abs(a[1:] - a[:-1]) > math.pi).nonzero()[0]
                g, a = [list(v) for v in (g, a)]
                for j in reversed(jumps):  # a NaN between two points breaks the line there
                    g.insert(j + 1, float("nan"))
                    a.insert(j + 1, float("nan"))
                ax.plot(g, a, color=COLORS[i % len(COLORS)], label=label)
        ax.set_yticks([-math.pi, -math.pi / 2, 0, math.pi / 2, math.pi], ["−π", "−π/2", "0", "π/2", "π"])
        ax.set(xlabel="x", ylabel="angle θ (radians)", title=title, ylim=(-math.pi - 0.3, math.pi + 0.3))
        ax.legend(loc="lower left")
    return fig


def plot_embeddings(z: torch.Tensor, labels: torch.Tensor, title: str = "", *, unit_circle: bool = True):
    """Scatter 2-D embeddings coloured by class (identity), with the unit circle drawn for reference.

    Equal axis scales, so distances and angles on the page are the real ones.

    Args:
        z: embeddings of shape (N, 2); labels: (N,) integer classes;
        unit_circle: draw the circle of radius 1 (where L2-normalized embeddings live).

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> fig = plot_embeddings(z, torch.tensor([0, 1]), "two points")
        >>> fig.axes[0].get_title()
        'two points'
    """
    check_tensor(z, "z", floating=True, min_dim=2)
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (N, 2), got {tuple(z.shape)}")
    check_tensor(labels, "labels", min_dim=1)
    if labels.shape != z.shape[:1]:
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {tuple(labels.shape)}")
    fig, ax = new_figure(width=4.6, height=4.4)
    zs = _np(z)
    lab = labels.detach().cpu().long().numpy()
    with _style():
        if unit_circle:
            t = torch.linspace(0, 2 * torch.pi, 400, dtype=torch.float64)
            ax.plot(torch.cos(t).numpy(), torch.sin(t).numpy(), color="0.6", linestyle="--", linewidth=1.0,
                    label="unit circle")
        for c in sorted(set(lab.tolist())):
            pts = zs[lab == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=12, color=COLORS[c % len(COLORS)], edgecolor="white",
                       linewidth=0.4, label=f"class {c}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
        ax.legend(loc="upper right")
    return fig


def _check_column(t, name: str) -> None:
    check_tensor(t, name, floating=True)
    if t.dim() != 2 or t.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N, 1), got {tuple(t.shape)}")


def plot_conditional_density(x: torch.Tensor, y: torch.Tensor, density, *, curves: dict | None = None,
                             title: str = "", resolution: int = 200):
    r"""A predicted conditional density :math:`p(y \mid x)` as a colour map, with the data and optional curves.

    Args:
        x, y: data of shape (N, 1), drawn as points.
        density: callable ``(x (P, 1), y (P,)) -> (P,)``, the density at each pair;
            called once on a ``resolution`` x ``resolution`` grid spanning the data.
        curves: optional mapping label -> callable ``x (M, 1) -> (M, 1)`` (e.g. a
            model trained with squared error), drawn as lines.

    Example:
        >>> x = torch.linspace(0, 1, 5).unsqueeze(1)
        >>> fig = plot_conditional_density(x, x, lambda a, b: torch.exp(-(a[:, 0] - b) ** 2), resolution=10)
        >>> fig.axes[0].get_ylabel()
        'y'
    """
    _check_column(x, "x")
    _check_column(y, "y")
    if not callable(density):
        raise TypeError(f"density must be callable as density(x, y), got {type(density).__name__}")
    if curves is not None and not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict label -> callable or None, got {type(curves).__name__}")
    gx = torch.linspace(float(x.min()), float(x.max()), resolution, dtype=x.dtype, device=x.device)
    pad = 0.05 * float(y.max() - y.min())
    gy = torch.linspace(float(y.min()) - pad, float(y.max()) + pad, resolution, dtype=y.dtype, device=y.device)
    mesh_x, mesh_y = torch.meshgrid(gx, gy, indexing="xy")   # (L, M): rows follow y, columns x
    with torch.no_grad():
        dens = density(mesh_x.reshape(-1, 1), mesh_y.reshape(-1)).reshape(mesh_x.shape)
    fig, ax = new_figure(width=6.0, height=4.0)
    with _style():
        # A square-root colour scale: narrow components have tall peaks that would wash out the wide ones.
        im = ax.pcolormesh(_np(gx), _np(gy), _np(dens), cmap="Blues", shading="auto",
                           norm=matplotlib.colors.PowerNorm(gamma=0.5, vmin=0.0))
        fig.colorbar(im, ax=ax, label="predicted p(y | x), square-root scale")
        ax.scatter(_np(x).ravel(), _np(y).ravel(), s=3, color="0.3", alpha=0.35, label="data")
        with torch.no_grad():
            for i, (label, curve) in enumerate((curves or {}).items()):
                ax.plot(_np(gx), _np(curve(gx.unsqueeze(1))).ravel(), color=COLORS[(i + 1) % len(COLORS)],
                        label=label)
        ax.set(xlabel="x", ylabel="y", title=title)
        ax.legend(loc="upper left")
    return fig


def plot_quantile_curves(x: torch.Tensor, y: torch.Tensor, panels: dict, quantiles, *, x_range=None,
                         title: str = ""):
    """Predicted quantile curves over the data, one panel per model, with crossings marked.

    Args:
        x, y: data of shape (N, 1).
        panels: mapping label -> callable ``x (M, 1) -> (M, K)``, the K predicted quantiles.
        quantiles: the K levels, in the order of the columns (for the legend).
        x_range: (min, max) of the grid; defaults to the data's range. A wider
            range shows what the model does beyond its data.

    Where two neighbouring curves cross (a higher level predicted below a
    lower one) the grid point is marked on the x axis.

    Example:
        >>> x = torch.linspace(0, 1, 5).unsqueeze(1)
        >>> fig = plot_quantile_curves(x, x, {"band": lambda t: torch.cat([t - 1, t + 1], 1)}, [0.1, 0.9])
        >>> fig.axes[0].get_title()
        'band'
    """
    _check_column(x, "x")
    _check_column(y, "y")
    if not isinstance(panels, dict) or not panels:
        raise TypeError("panels must be a non-empty dict label -> callable returning (M, K) quantiles")
    levels = [float(q) for q in quantiles]
    lo, hi = _check_range(x_range if x_range is not None else (float(x.min()), float(x.max())))
    grid = torch.linspace(lo, hi, 400, dtype=x.dtype, device=x.device).unsqueeze(1)
    fig, axes = new_figure(ncols=len(panels), width=4.4, height=3.8)
    axes = axes if isinstance(axes, list) else [axes]
    with _style():
        for ax, (label, predict) in zip(axes, panels.items()):
            with torch.no_grad():
                q = predict(grid)
            if q.dim() != 2 or q.shape != (grid.shape[0], len(levels)):
                raise ValueError(f"panel {label!r} must return shape (M, {len(levels)}), got {tuple(q.shape)}")
            ax.scatter(_np(x).ravel(), _np(y).ravel(), s=6, color="0.65", label="data")
            for k, level in enumerate(levels):
                ax.plot(_np(grid).ravel(), _np(q[:, k]), color=COLORS[k % len(COLORS)], linewidth=1.5,
                        label=f"q = {level:g}")
            crossed = (q.diff(dim=1) < 0).any(dim=1)
            if bool(crossed.any()):
                ax.plot(_np(grid[crossed]).ravel(), [0.0] * int(crossed.sum()), "|", color="black",
                        markersize=10, transform=ax.get_xaxis_transform(), label="quantiles cross")
            ax.set(xlabel="x", ylabel="y", title=label)
        handles = {}
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
        # One legend for every panel, below them (beside them it would squeeze the panels)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=4)
        if title:
            fig.suptitle(title)
    return fig


def plot_distance_histograms(panels: dict, *, thresholds: dict | None = None, bins: int = 40, title: str = ""):
    """Histograms of same-identity and different-identity pair distances, one panel per run.

    Args:
        panels: mapping panel title -> ``(d, same)`` as returned by
            :func:`course_pkg.embeddings.pair_distances`.
        thresholds: optional mapping panel title -> a distance threshold, drawn as a vertical line.
        bins: number of histogram bins per panel; title: the figure's title.

    Example:
        >>> d, same = torch.tensor([0.1, 0.2, 1.5, 1.8]), torch.tensor([True, True, False, False])
        >>> fig = plot_distance_histograms({"run": (d, same)}, thresholds={"run": 1.0})
        >>> fig.axes[0].get_title()
        'run'
    """
    if not isinstance(panels, dict) or not panels:
        raise TypeError("panels must be a non-empty dict title -> (distances, same)")
    thresholds = thresholds or {}
    for name, pair in panels.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"panels[{name!r}] must be a tuple (distances, same)")
        d, same = pair
        check_tensor(d, f"panels[{name!r}] distances", floating=True, min_dim=1)
        check_tensor(same, f"panels[{name!r}] same", min_dim=1)
        if same.dtype != torch.bool or same.shape != d.shape:
            raise ValueError(f"panels[{name!r}]: same must be a bool tensor shaped like the distances")
    fig, axes = new_figure(ncols=len(panels), width=3.6, height=3.0)
    axes = axes if isinstance(axes, list) else [axes]
    with _style():
        for ax, (name, (d, same)) in zip(axes, panels.items()):
            dn, sn = _np(d), same.detach().cpu().numpy()
            ax.hist(dn[sn], bins=bins, density=True, alpha=0.6, color=COLORS[0], label="same identity")
            ax.hist(dn[~sn], bins=bins, density=True, alpha=0.6, color=COLORS[1], label="different identity")
            if name in thresholds:
                ax.axvline(float(thresholds[name]), color="0.2", linestyle="--", linewidth=1.2, label="threshold")
            ax.set(xlabel="pair distance", ylabel="density", title=name)
        _legend_below(fig, axes[0], axes)
        if title:
            fig.suptitle(title)
    return fig


_register_retina_display()
