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
