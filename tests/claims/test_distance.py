"""Chapter 8's conclusions, re-run over seeds (data, triplets and initial weights).

Each test states the sentence of the chapter it checks. The five trained networks of a seed are shared between the
tests (about 2 s of single-thread CPU per seed).
"""
import pytest

from course_pkg.experiments import distance as experiment
from course_pkg.metrics import mcnemar_test

SEEDS = (0, 1, 2)
pytestmark = pytest.mark.claims


_RESULTS = {}


def _result(seed):
    """The five trained runs of one seed and their threshold table, computed once per test session."""
    if seed not in _RESULTS:
        result = experiment.normalization_experiment(seed=seed)
        result["transfer"] = experiment.threshold_transfer(result["task"], result["runs"])
        _RESULTS[seed] = result
    return _RESULTS[seed]


@pytest.fixture(scope="module", params=SEEDS)
def trained(request):
    return _result(request.param)


@pytest.mark.parametrize("seed", SEEDS)
def test_scaling_moves_raw_losses_but_not_the_order_or_normalized_losses(seed):
    """Section 5: scaling changes no ordering and no normalized loss; shrinking sends the raw triplet loss to m and
    the raw contrastive loss to m^2 / 2; at c = 3 both raw losses are below their value at c = 1; at c = 100 both
    explode."""
    table = experiment.loss_under_scaling(seed)
    rows = {row[0]: row[1:] for row in table["rows"]}
    accuracies = {row[5] for row in table["rows"]}
    assert accuracies == {table["accuracy"]}
    for column in (1, 3):                                       # normalized triplet and contrastive losses
        values = [row[column] for row in rows.values()]
        assert max(values) - min(values) < 1e-12
    triplet_raw, contrastive_raw = (lambda c: rows[c][0]), (lambda c: rows[c][2])
    assert abs(triplet_raw(0.01) - 1.0) < 1e-3                  # every triplet costs 0 - 0 + m
    assert abs(contrastive_raw(0.01) - 0.5) < 1e-2              # m^2 for the different half of the pairs
    assert triplet_raw(3.0) < triplet_raw(1.0) and contrastive_raw(3.0) < contrastive_raw(1.0)
    assert triplet_raw(100.0) > 5 * triplet_raw(1.0) and contrastive_raw(100.0) > 5 * contrastive_raw(1.0)


def test_every_run_flattens_and_orders_the_test_triplets(trained):
    """Section 6: every run's training loss stays below 0.05 over its last quarter, and every run orders at least
    95% of the test triplets correctly by the embeddings its loss sees (at least 90% by the raw outputs)."""
    for run in trained["runs"].values():
        assert run.late_loss() < 0.05, run.name
        assert run.test_accuracy >= 0.95, (run.name, run.test_accuracy)
        assert run.raw_test_accuracy >= 0.90, (run.name, run.raw_test_accuracy)


def _printed(result):
    """The lines chapter 8 prints about the runs of one seed."""
    runs, transfer = result["runs"], result["transfer"]
    unit_run = runs["normalized, margin 1"]
    paired = mcnemar_test(unit_run.test_correct, unit_run.raw_test_correct)
    split = experiment.contrastive_split(result["task"], runs["no norm., margin 1"])
    return [experiment.report_run(run) for run in runs.values()] + [
        experiment.threshold_report(transfer),
        f"{paired['a_only'] > paired['b_only']} {paired['p_value'] < 0.01}",
        f"{split['triplet'] < 0.001} {split['contrastive'] > 0.1} {split['different_part'] == 0.0} "
        f"{split['different_closer']}",
        f"{max(transfer[n]['max_distance'] for n in ('normalized, margin 0.5', 'normalized, margin 1')):.2f}"]


@pytest.fixture(scope="module")
def printed_for_seed_0():
    return _printed(_result(0))


def test_the_chapter_prints_the_same_lines_for_every_seed(trained, printed_for_seed_0):
    """Section 6 prints statements, not one run's digits: every seed (like every machine) prints the same lines."""
    assert _printed(trained) == printed_for_seed_0


def test_raw_run_reaches_zero_loss_by_spreading_out(trained):
    """Section 6: the raw margin-1 run's loss reaches 0 (every training triplet clears the margin), and its mean
    embedding length grows well beyond the untrained network's."""
    run = trained["runs"]["no norm., margin 1"]
    assert run.history.losses[-1] < 1e-3
    untrained = experiment.loss_under_scaling(trained["task"].seed)["mean_length"]
    assert run.mean_length > 2 * untrained


def test_normalized_model_looks_worse_on_its_raw_outputs(trained):
    """Section 6: the normalized network orders more test triplets correctly by z/||z|| than by its raw outputs z
    (McNemar's paired test on the test triplets)."""
    run = trained["runs"]["normalized, margin 1"]
    paired = mcnemar_test(run.test_correct, run.raw_test_correct)
    assert paired["a_only"] > paired["b_only"] and paired["p_value"] < 0.01, paired


def test_margin_only_sets_the_scale(trained):
    """Section 6: without normalization the mean embedding length grows with the margin (0.1, 1, 10) while the test
    accuracy stays at 95% or more (checked above)."""
    runs = trained["runs"]
    lengths = [runs[f"no norm., margin {m}"].mean_length for m in ("0.1", "1", "10")]
    assert lengths[0] < lengths[1] < lengths[2], lengths


def test_thresholds_transfer_on_the_sphere_only(trained):
    """Section 6: fitted (on validation pairs) unnormalized thresholds grow with the margin; the margin-1 run's
    threshold costs the margin-0.1 and margin-10 runs more than 10 points of balanced test accuracy (paired bootstrap
    interval above 0.10), while the two normalized runs exchange thresholds at a cost below 2 points; all normalized
    distances lie in [0, 2]."""
    transfer = trained["transfer"]
    thresholds = [transfer[f"no norm., margin {m}"]["threshold"] for m in ("0.1", "1", "10")]
    assert thresholds[0] < thresholds[1] < thresholds[2], thresholds
    for name in ("no norm., margin 0.1", "no norm., margin 10"):
        assert transfer[name]["cost"]["low"] > 0.10, (name, transfer[name]["cost"])
    for name in ("normalized, margin 0.5", "normalized, margin 1"):
        assert 0.5 <= transfer[name]["threshold"] < 1.0, (name, transfer[name]["threshold"])
        assert transfer[name]["cost"]["high"] < 0.02, (name, transfer[name]["cost"])
        assert transfer[name]["max_distance"] <= 2.0 + 1e-12
        assert transfer[name]["accuracy"] >= 0.9


def test_margin_one_threshold_misplaced_in_other_units(trained):
    """Section 6: applied to the margin-0.1 run the margin-1 threshold calls most different-identity pairs "same";
    applied to the margin-10 run it calls a large part (over a quarter) of the same-identity pairs "different"."""
    transfer = trained["transfer"]
    t1 = transfer["no norm., margin 1"]["threshold"]
    small, large = transfer["no norm., margin 0.1"], transfer["no norm., margin 10"]
    assert (small["d"][~small["same"]] < t1).double().mean().item() > 0.5
    assert (large["d"][large["same"]] >= t1).double().mean().item() > 0.25


def test_triplet_zero_but_contrastive_positive(trained):
    """Section 6: the raw margin-1 network has triplet loss 0 on its training triplets but a positive contrastive
    loss, all of it from same-identity pairs."""
    split = experiment.contrastive_split(trained["task"], trained["runs"]["no norm., margin 1"])
    assert split["triplet"] < 1e-3
    assert split["contrastive"] > 0.1
    assert split["different_part"] == 0.0 and split["different_closer"] == 0
    assert abs(split["same_part"] - split["contrastive"]) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_over_cosines_needs_a_scale(seed):
    """Section 7: the loss never beats the simplex bound; at s = 1 and s = 4 the optimizer reaches it (within 3%), and
    at s = 1 the correct class gets less than 0.6; at s = 16 the loss stays far above its (tiny) bound."""
    rows = {row[0]: row[1:] for row in experiment.cosine_softmax_bounds(seed)}
    for s, (loss, p_correct, simplex, simple) in rows.items():
        assert loss >= simplex * (1 - 1e-9) and simplex > simple, s
    for s in (1.0, 4.0):
        loss, _, simplex, _ = rows[s]
        assert loss <= 1.03 * simplex, (s, loss, simplex)
    assert rows[1.0][1] < 0.6 and rows[4.0][1] > 0.98
    assert rows[16.0][0] > 1e3 * rows[16.0][2]
