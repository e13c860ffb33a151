"""Chapter 3's conclusions, re-run over three seeds (data and initialisation): course_pkg.experiments.regression."""
import pytest
import torch

from course_pkg.data import make_bounded_regression
from course_pkg.experiments.regression import bounded_or_standardized, fit_to_noise_floor, fractional_logit
from course_pkg.losses import mse
from course_pkg.models import MLP
from course_pkg.training import train

pytestmark = pytest.mark.claims

# (data seed, initialisation seed); the chapter shows data seed 0 (section 3) and 1 (section 5)
SEEDS = [(1, 0), (2, 1), (3, 2)]


@pytest.mark.parametrize("data_seed, seed", [(0, 0), (1, 1), (2, 2)])
def test_600_steps_reach_the_noise_level(data_seed, seed):
    # "the trained loss always ends between 75% and 115% of the true curve's" (Adam's wobble at the end can lift it
    # above the true curve's on some CPUs' kernels: seed 2 does on AVX2 / AVX-512)
    fit = fit_to_noise_floor(seed=seed, data_seed=data_seed)
    assert 0.75 * fit.true_curve_loss < fit.trained_loss < 1.15 * fit.true_curve_loss


def test_the_last_recorded_loss_is_one_update_stale():
    fit = fit_to_noise_floor(steps=10)
    nine = fit_to_noise_floor(steps=9)
    assert fit.history.final == nine.trained_loss != fit.trained_loss


@pytest.fixture(scope="module")
def runs():
    return {(d, s): {"usual": bounded_or_standardized(s, 0.0, data_seed=d),
                     "bad": bounded_or_standardized(s, 6.0, data_seed=d)} for d, s in SEEDS}


def _on_bound(data_seed):
    _, y = make_bounded_regression(n=300, seed=data_seed)
    return ((y == 10.0) | (y == 100.0)).squeeze(1)


def test_usual_start_the_two_designs_end_close_together(runs):
    for key, pair in runs.items():
        clipped, bounded = pair["usual"].errors_clipped.mean().item(), pair["usual"].errors_bounded.mean().item()
        assert max(clipped, bounded) < 1.3 * min(clipped, bounded), key


def test_usual_start_bound_targets_are_easier_and_the_sigmoid_fits_them_worse(runs):
    for (d, s), pair in runs.items():
        run, on = pair["usual"], _on_bound(d)
        for errors in (run.errors_clipped, run.errors_unclipped, run.errors_bounded):
            e = errors.squeeze(1)
            assert e[on].mean() < e[~on].mean(), (d, s)            # noiseless clipped targets: every model fits better
        assert run.errors_bounded.squeeze(1)[on].mean() > run.errors_clipped.squeeze(1)[on].mean(), (d, s)
        inside_c, inside_b = run.errors_clipped.squeeze(1)[~on].mean(), run.errors_bounded.squeeze(1)[~on].mean()
        assert max(inside_c, inside_b) < 1.15 * min(inside_c, inside_b), (d, s)   # inside: nearly equal


def test_without_the_clip_the_linear_model_loses_its_lead_for_some_seeds_of_the_chapter(runs):
    on = _on_bound(1)
    worse = [runs[(1, 0)]["usual"]] + [bounded_or_standardized(s, 0.0, data_seed=1) for s in (1, 2)]
    assert any(r.errors_unclipped.squeeze(1)[on].mean() > r.errors_bounded.squeeze(1)[on].mean() for r in worse)


def test_bad_start_standardized_recovers_and_sigmoid_stalls(runs):
    for key, pair in runs.items():
        run = pair["bad"]
        assert run.errors_clipped.mean() < 10, key
        final = run.errors_bounded.mean().item()
        assert final > 50 and final > 0.85 * run.history.losses[100], key     # barely moves after update 100


def test_bad_start_trap_is_hidden_layer_saturation_plus_the_flat_tail(runs):
    for key, pair in runs.items():
        run = pair["bad"]
        error = run.errors_bounded.squeeze(1)
        missed, flat = error.sqrt() > 5, run.slope.squeeze(1) < 0.01
        share = lambda where: (error[where].sum() / error.sum()).item()  # noqa: E731
        assert share(missed) > 0.9, key
        assert run.saturated[missed].mean() > 0.8, key
        assert run.saturated[missed].mean() > pair["usual"].saturated.mean() + 0.2, key
        assert share(missed & ~flat) > 0.25 and share(missed & flat) > 0.1, key   # both parts carry error


def test_ten_times_the_budget_leaves_the_sigmoid_far_behind(runs):
    for (d, s), pair in runs.items():
        longer = bounded_or_standardized(s, 6.0, data_seed=d, steps=2000, fit_standardized=False)
        assert longer.errors_bounded.mean() > 3 * pair["bad"].errors_clipped.mean(), (d, s)


def test_cross_entropy_on_the_logit_removes_the_trap(runs):
    for (d, s), pair in runs.items():
        result = fractional_logit(seed=s, data_seed=d)
        assert result["stuck"] == 0, (d, s)
        assert result["mse"] < 0.5 * pair["bad"].errors_bounded.mean().item(), (d, s)
        assert result["mse"] > pair["bad"].errors_clipped.mean().item(), (d, s)   # still behind at this budget


def test_chapter_solution_matches_the_experiment():
    # the exercise's solution trains inline; it is the same run as fractional_logit(seed=0, data_seed=1)
    from course_pkg.losses import bce_with_logits
    from course_pkg.transforms import scale_to_range
    x, y = make_bounded_regression(n=300, seed=1)
    model = MLP(1, 1, hidden=(32, 32), seed=0)
    with torch.no_grad():
        model.head.bias -= 6.0
    train(model, lambda o, t: bce_with_logits(o, (t - 10.0) / 90.0), x, y, steps=200, lr=0.02)
    with torch.no_grad():
        inline = mse(scale_to_range(model(x), 10.0, 100.0), y).item()
    assert inline == pytest.approx(fractional_logit(seed=0, data_seed=1)["mse"], rel=1e-6)
