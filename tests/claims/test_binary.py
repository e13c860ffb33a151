"""Claims of chapter 5 (binary classification), re-run over three seeds of data and initialisation.

Each test names the sentence of the chapter it guards; the experiments live in course_pkg/experiments/binary.py.
"""
import math

import pytest
import torch

from course_pkg.experiments import binary as E
from course_pkg.metrics import mcnemar_test

SEEDS = [(0, 0), (10, 1), (20, 2)]  # (data seed, initialisation seed); the chapter shows the first


@pytest.fixture(scope="module")
def held_out_runs():
    return [E.train_watching_held_out(data_seed=d, held_out_seed=d + 1, init_seed=i) for d, i in SEEDS]


@pytest.fixture(scope="module")
def pos_weight_runs():
    return [E.pos_weight_experiment(data_seed=2 + d, subsample_seed=i, init_seed=i, held_out_seed=1 + d,
                                    prior_seed=3 + d) for d, i in SEEDS]


@pytest.mark.claims
@pytest.mark.parametrize("data_seed, init_seed", SEEDS)
def test_bce_on_sigmoid_loses_the_gradient_of_the_whole_model(data_seed, init_seed):
    """Section 4: zero gradient at +20 and -100, fading from -28 on; the logits loss keeps a norm of order 1."""
    norms = E.gradient_norms_at_shift((20.0, -20.0, -28.0, -30.0, -40.0, -100.0), data_seed, init_seed)
    assert norms[20.0][0] == 0.0 and norms[-100.0][0] == 0.0
    assert norms[-28.0][0] < 0.9 * norms[-28.0][1] and norms[-30.0][0] < 0.2 * norms[-30.0][1]
    assert norms[-40.0][0] < 1e-4 * norms[-40.0][1]
    assert abs(norms[-20.0][0] - norms[-20.0][1]) < 0.01 * norms[-20.0][1]  # at -20 the two still agree
    assert all(0.5 < logits_norm < 2.0 for _, logits_norm in norms.values())


@pytest.mark.claims
@pytest.mark.parametrize("data_seed, init_seed", SEEDS)
def test_sgd_stays_stuck_and_adam_trains_from_a_faded_start(data_seed, init_seed):
    """Section 4: from -40 through BCELoss(sigmoid), plain SGD stays stuck; Adam rescales and trains."""
    sgd = E.train_from_confident_start("sgd", 0.5, data_seed=data_seed, init_seed=init_seed)
    adam = E.train_from_confident_start("adam", 0.01, data_seed=data_seed, init_seed=init_seed)
    assert sgd["first"] > 15 and round(sgd["final"], 2) == round(sgd["first"], 2) and sgd["accuracy"] == 0.5
    assert adam["final"] < 0.5 and adam["accuracy"] > 0.85


@pytest.mark.claims
def test_overfitting_held_out_loss_rises_while_training_loss_falls(held_out_runs):
    """Section 5: training BCE keeps falling; held-out BCE bottoms out early and rises again; accuracy barely moves."""
    for run in held_out_runs:
        train_losses, held = run["train_losses"], run["held_out_losses"]
        assert all(train_losses[s] > train_losses[s + 50] for s in range(0, 450, 50))
        best = min(range(len(held)), key=held.__getitem__)
        assert best < 150
        assert run["final_held_out"] > 1.1 * held[best] and run["final_held_out"] > run["final_train"]
        assert abs(run["final_held_out_accuracy"] - run["held_out_accuracy"][best]) <= 0.03  # accuracy barely notices


@pytest.mark.claims
def test_thresholds_far_apart_differ_beyond_chance(held_out_runs):
    """Section 6: a paired test on the same held-out examples separates thresholds 0.5 and 0.9 in recall and 0.1
    and 0.9 in false positives; the discordant examples all go one way."""
    for run in held_out_runs:
        with torch.no_grad():
            z = run["model"](run["x_held"])
        recall = E.recall_mcnemar(z, run["y_held"], 0.5, 0.9)
        assert recall["b_only"] == 0 and recall["p_value"] < 0.05
        fp = E.false_positive_mcnemar(z, run["y_held"], 0.1, 0.9)
        assert fp["a_only"] == 0 and fp["p_value"] < 0.05


@pytest.mark.claims
def test_pos_weight_buys_recall_with_false_positives(pos_weight_runs):
    """Section 7: the weighted model has the higher recall and more false positives (lower precision) in every
    run, and pooled over the runs the recall gain is far beyond chance."""
    gained = lost = 0
    for run in pos_weight_runs:
        plain, weighted = run["counts"]["plain"], run["counts"]["weighted"]
        assert run["w"] == 8
        assert weighted["recall"] > plain["recall"]
        assert weighted["fp"] > plain["fp"] and weighted["precision"] < plain["precision"]
        gained += run["recall_test"]["a_only"]
        lost += run["recall_test"]["b_only"]
    pooled = mcnemar_test(torch.tensor([True] * gained + [False] * lost), torch.tensor([False] * gained + [True] * lost))
    assert pooled["p_value"] < 1e-3


@pytest.mark.claims
def test_which_probabilities_are_honest_depends_on_the_prior(pos_weight_runs):
    """Section 7's table: balanced set: unweighted + log w best, weighted - log w worst; training-prior set:
    unweighted best, weighted worst, and subtracting log w from the weighted logits helps (BCE and mean p)."""
    for run in pos_weight_runs:
        p = run["probabilities"]
        balanced = sorted(p, key=lambda v: p[v][1])
        prior = sorted(p, key=lambda v: p[v][3])
        assert balanced[0] == "no pos_weight + log w" and balanced[-1] == "pos_weight - log w"
        assert prior[0] == "no pos_weight" and prior[-1] == "pos_weight"
        assert p["pos_weight - log w"][3] < p["pos_weight"][3]
        truth = run["prior_fraction"]
        assert math.isclose(truth, 1 / 9, abs_tol=1e-6)
        assert abs(p["pos_weight - log w"][2] - truth) < abs(p["pos_weight"][2] - truth)
