import pytest
import torch

from course_pkg import plotting
from course_pkg.gradients import gradient_flow, gradient_table
from course_pkg.transforms import argmax, sigmoid, softplus, threshold


@pytest.mark.parametrize("fn, status", [
    (sigmoid, "passes gradient"),
    (softplus, "passes gradient"),
    (torch.round, "zero gradient"),
    (torch.sign, "zero gradient"),
    (torch.floor, "zero gradient"),
    (threshold, "leaves the graph"),
    (lambda o: (o > 0).float(), "leaves the graph"),
    (lambda o: argmax(o.view(1, -1)).float(), "leaves the graph"),
    (lambda o: torch.heaviside(o, torch.tensor(0.5, dtype=o.dtype)), "no backward"),
])
def test_gradient_flow_statuses(fn, status):
    assert gradient_flow(fn, torch.tensor([-1.5, 0.3, 2.0])).status == status


def test_saturated_sigmoid_gives_zero_gradient_in_float32():
    flow = gradient_flow(sigmoid, torch.tensor([200.0, -200.0]))
    assert flow.status == "zero gradient" and not flow.passes


def test_straight_through_passes_sigmoid_gradient():
    def ste(o):
        soft = sigmoid(o)
        return threshold(o) + (soft - soft.detach())
    o = torch.tensor([-1.0, 0.5])
    flow = gradient_flow(ste, o)
    assert flow.passes
    s = torch.sigmoid(o)
    assert torch.allclose(flow.grad, s * (1 - s))


def test_gradient_table_layout():
    table = gradient_table({"sigmoid": sigmoid, "round": torch.round}, [0, 2])
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].split(" | ")][-2:] == ["o=0", "o=2"]
    assert lines[1].startswith("sigmoid") and "0.25" in lines[1]
    assert "zero gradient" in lines[2]


def test_gradient_table_dtype():
    # float32: sigma(20) rounds to 1, so its gradient s(1 - s) is exactly 0, while sigma'(-20) = 2.06e-9 survives.
    row32 = gradient_table({"sigmoid": sigmoid}, [-20, 20], dtype=torch.float32).splitlines()[1]
    row64 = gradient_table({"sigmoid": sigmoid}, [-20, 20]).splitlines()[1]
    assert [c.strip() for c in row32.split(" | ")][-2:] == ["2.061e-09", "0"]
    assert [c.strip() for c in row64.split(" | ")][-2:] == ["2.061e-09", "2.061e-09"]
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        gradient_table({"sigmoid": sigmoid}, [0.0], dtype=torch.int64)


def test_gradient_probe_errors():
    with pytest.raises(TypeError, match="callable"):
        gradient_flow(3, torch.zeros(1))
    with pytest.raises(TypeError, match="floating-point"):
        gradient_flow(sigmoid, torch.zeros(1, dtype=torch.int64))


def test_figures_are_opaque_and_fresh():
    fig = plotting.plot_functions({"sigmoid": sigmoid}, gradients=True)
    assert len(fig.axes) == 2
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    import matplotlib.pyplot as plt
    assert fig.number not in plt.get_fignums()  # detached: Jupyter shows it once


def test_gradient_panel_tells_missing_gradient_from_zero_gradient():
    heaviside = lambda o: torch.heaviside(o, torch.tensor(0.5, dtype=o.dtype))  # noqa: E731
    fig = plotting.plot_functions({"round": torch.round, "step": threshold, "heaviside": heaviside,
                                   "sigmoid": sigmoid}, gradients=True)
    ax_val, ax_grad = fig.axes
    rnd, step, heavi, sig = ax_grad.lines
    # round: autograd returns a real gradient, 0 everywhere, and it is drawn
    assert len(rnd.get_ydata()) == 401 and not rnd.get_ydata().any()
    # the step leaves the graph and heaviside has no backward: no curve, a legend entry saying why
    assert len(step.get_xdata()) == 0 and len(heavi.get_xdata()) == 0
    labels = ax_grad.get_legend_handles_labels()[1]
    assert labels == ["round", "step: no gradient (not in the graph)",
                      "heaviside: no gradient (no backward formula)", "sigmoid"]
    # each function keeps its colour in both panels, also after a missing curve
    assert [ln.get_color() for ln in ax_val.lines] == [ln.get_color() for ln in ax_grad.lines]
    texts = {t.get_text(): t.get_color() for t in ax_grad.get_legend().get_texts()}
    assert texts["step: no gradient (not in the graph)"] == step.get_color()
    # the alt text names the missing gradient
    assert "step: no gradient (not in the graph)" in fig.describe()
    assert abs(sig.get_ydata().max() - 0.25) < 1e-6


def test_plot_functions_axis_labels():
    fig = plotting.plot_functions({"loss": lambda z: softplus(-z)}, gradients=True, ylabel="loss",
                                  grad_ylabel="dL/dz", xlabel="logit z")
    ax_val, ax_grad = fig.axes
    assert (ax_val.get_ylabel(), ax_grad.get_ylabel()) == ("loss", "dL/dz")
    assert ax_val.get_xlabel() == ax_grad.get_xlabel() == "logit z"
    assert "(dL/dz against logit z)" in fig.describe()


def test_decision_regions_both_modes():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 2])
    plotting.plot_decision_regions(lambda g: (g.sum(1) * 1.5).long().clamp(0, 2), x, y, resolution=20)
    plotting.plot_decision_regions(lambda g: torch.sigmoid(g.sum(1) - 1), x, y.clamp(0, 1), probability=True,
                                   resolution=20)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plotting.plot_decision_regions(lambda g: g, torch.zeros(3, 3), y)


def test_plot_errors():
    with pytest.raises(ValueError, match="min < max"):
        plotting.plot_functions({"s": sigmoid}, o_range=(1, 0))
    with pytest.raises(TypeError, match="non-empty dict"):
        plotting.plot_histories({})


def test_conditional_density_and_quantile_figures():
    x = torch.linspace(0, 1, 20).unsqueeze(1)
    fig = plotting.plot_conditional_density(x, x, lambda a, b: torch.exp(-(a[:, 0] - b) ** 2),
                                            curves={"mean": lambda t: t}, title="density", resolution=12)
    assert "showing data, mean" in fig.describe()
    crossing = plotting.plot_quantile_curves(
        x, x, {"crossing": lambda t: torch.cat([t, 1 - t], dim=1), "ordered": lambda t: torch.cat([t, t + 1], 1)},
        [0.1, 0.9], x_range=(0.0, 1.0))
    text = crossing.describe()
    assert "'crossing'" in text and "quantiles cross" in text.split("'ordered'")[0]
    assert "quantiles cross" not in text.split("'ordered'")[1]
    with pytest.raises(ValueError, match=r"must return shape \(M, 2\)"):
        plotting.plot_quantile_curves(x, x, {"bad": lambda t: t}, [0.1, 0.9])


def test_plot_bars_marks_missing_zero_and_nan_differently():
    values = {"no gradient": {"bug": None, "fix": 1.0}, "zero": {"bug": 0.0, "fix": 0.5},
              "nan": {"bug": float("nan"), "fix": 2.0}}
    fig = plotting.plot_bars(values, log_y=True, none_label="no gradient")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("no gradient") == 1 and texts.count("0") == 1 and texts.count("nan") == 1
    assert len(fig.axes[0].patches) == 6
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    assert heights[:3] == [0.0, 0.0, 0.0]          # None, 0 and nan draw no visible bar on a log axis
    with pytest.raises(TypeError, match="must be a number or None"):
        plotting.plot_bars({"a": "1"})


# ----------------------------------------------------------------------------- figures readable on the page


def _every_figure():
    """One figure from every plotting helper, with realistic content (legends, several panels, many bins)."""
    torch.manual_seed(0)
    x1 = torch.linspace(0, 1, 50).unsqueeze(1)
    x2 = torch.randn(60, 2)
    p = torch.softmax(3 * torch.randn(300, 3), 1)
    y3 = torch.randint(0, 3, (300,))
    levels = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    d, same = torch.rand(40), torch.rand(40) > 0.5
    return {
        "functions": plotting.plot_functions({"sigmoid": sigmoid, "step": threshold}, gradients=True),
        "histories": plotting.plot_histories({"squared error on a sigmoid": [1.0, 0.5, 0.4], "BCE": [1.0, 0.2, 0.1]}),
        "regression_fit": plotting.plot_regression_fit(x1, 2 * x1, {"2x": lambda t: 2 * t}),
        "decision_regions": plotting.plot_decision_regions(lambda g: torch.sigmoid(g.sum(1)), x2,
                                                           (x2.sum(1) > 0).long(), probability=True, resolution=20),
        "bars": plotting.plot_bars({f"class {i}": {"plain": 0.5, "adjusted": 0.7} for i in range(5)},
                                   legend_loc="below"),
        "loss_vs_logit": plotting.plot_loss_vs_logit({"BCE": lambda z, t: softplus(z) - t * z}, 0.0, points=5),
        "reliability": plotting.plot_reliability_diagram({"a": (p, y3), "b": (p, y3), "c": (p, y3)}, n_bins=15),
        "mean_std_band": plotting.plot_mean_std_band(x1, x1, lambda t: (t, 0.1 + 0 * t)),
        "curves": plotting.plot_curves(x1.squeeze(1), {"a": {"x": x1.squeeze(1)}, "b": {"1-x": 1 - x1.squeeze(1)},
                                                       "c": {"x^2": x1.squeeze(1) ** 2}}),
        "angles": plotting.plot_angles(x1, x1.squeeze(1), {"id": lambda t: t.squeeze(1)}),
        "embeddings": plotting.plot_embeddings(x2, (x2[:, 0] > 0).long(), "z"),
        "conditional_density": plotting.plot_conditional_density(x1, x1, lambda a, b: torch.exp(-(a[:, 0] - b) ** 2),
                                                                 curves={"mean": lambda t: t}, resolution=10),
        "quantile_curves": plotting.plot_quantile_curves(
            x1, x1, {"one": lambda t: torch.cat([t + q for q in levels], 1),
                     "two": lambda t: torch.cat([t - q for q in levels], 1)}, levels),
        "distance_histograms": plotting.plot_distance_histograms({"a": (d, same), "b": (d, same), "c": (d, same)},
                                                                 thresholds={"a": 0.5}),
    }


@pytest.fixture(scope="module")
def every_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    figures = _every_figure()
    for fig in figures.values():
        FigureCanvasAgg(fig).draw()  # lays out legends and constrained-layout panels, as saving would
    return figures


def test_figures_fit_the_text_column_and_their_text_is_large_enough(every_figure):
    """Shown at its own size (never shrunk: no wider than the column), every text is >= 80 % of the 16 px body."""
    assert plotting.MIN_FONT_PT * plotting.DISPLAY_DPI / 72 >= 0.8 * 16
    assert plotting.COLUMN_WIDTH * plotting.DISPLAY_DPI <= 688
    import matplotlib.text
    for name, fig in every_figure.items():
        assert fig.get_figwidth() <= plotting.COLUMN_WIDTH + 1e-9, f"{name}: {fig.get_figwidth():.2f} in wide"
        assert fig.dpi == plotting.DISPLAY_DPI, name
        small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(matplotlib.text.Text)
                 if t.get_visible() and t.get_text().strip() and t.get_fontsize() < plotting.MIN_FONT_PT]
        assert not small, f"{name}: text smaller than {plotting.MIN_FONT_PT} pt: {small[:5]}"


def test_legends_below_the_panels_cover_nothing(every_figure):
    """A figure legend (below the panels) overlaps no panel; the loss curves' legend is one of them."""
    assert every_figure["histories"].axes[0].get_legend() is None and every_figure["histories"].legends
    for name, fig in every_figure.items():
        renderer = fig.canvas.get_renderer()
        for legend in fig.legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: the legend covers a panel"
            assert box.x0 >= -1 and box.x1 <= fig.bbox.width + 1, f"{name}: the legend is wider than the figure"


def test_axes_legends_have_an_opaque_frame(every_figure):
    legends = [ax.get_legend() for fig in every_figure.values() for ax in fig.axes if ax.get_legend()]
    assert legends
    for legend in legends:
        frame = legend.get_frame()
        assert legend.get_frame_on() and frame.get_alpha() >= 0.9 and frame.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_reliability_counts_are_horizontal_and_fit_their_bins(every_figure):
    fig = every_figure["reliability"]
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        counts = [t for t in ax.texts if t.get_text().isdigit()]
        assert len(counts) >= 5 and all(t.get_rotation() == 0 for t in counts)
        boxes = sorted((t.get_window_extent(renderer) for t in counts), key=lambda b: b.x0)
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:])), "bin counts overlap each other"


def test_jupyter_shows_course_figures_as_retina_png():
    """In a kernel, a course figure's PNG has twice the pixels of its display size (width/height metadata)."""
    import base64
    import struct
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        assert plotting._register_retina_display()
        fig = plotting.plot_histories({"run": [1.0, 0.5]})
        data, metadata = shell.display_formatter.format(fig)
        png = base64.b64decode(data["image/png"])
        width, height = struct.unpack(">II", png[16:24])
        shown = metadata["image/png"]
        assert (width, height) == (2 * shown["width"], 2 * shown["height"])
        assert abs(shown["width"] - fig.get_figwidth() * plotting.DISPLAY_DPI) < 0.1 * shown["width"]  # (tight box)
        assert data["text/plain"] == fig.describe()
    finally:
        InteractiveShell.clear_instance()
