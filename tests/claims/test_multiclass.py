"""Claims of chapter 6 (multi-class classification), re-run over three seeds of data and initialisation.

The experiment lives in course_pkg/experiments/multiclass.py; the chapter shows the first seed pair.
"""
import pytest

from course_pkg.experiments import multiclass as E

SEEDS = [(0, 0), (10, 1), (20, 2)]  # (data seed, initialisation seed)
OK, BUG = "loss on logits", "softmax before the loss"


def _ce_after(run, step):
    return run["true_ce"][step - 1]


@pytest.fixture(scope="module")
def adam_runs():
    return [E.compare_training("adam", 0.01, data_seed=d, init_seed=i) for d, i in SEEDS]


@pytest.mark.claims
@pytest.mark.parametrize("data_seed, init_seed", SEEDS)
def test_double_softmax_slows_sgd_and_leaves_it_behind(data_seed, init_seed):
    """Section 6: with SGD the buggy run lags at every checkpoint, lingers on the plateau and classifies fewer
    training points correctly, beyond chance."""
    runs = E.compare_training("sgd", 0.5, data_seed=data_seed, init_seed=init_seed)
    ok, bug = runs[OK], runs[BUG]
    assert all(_ce_after(bug, s) > _ce_after(ok, s) for s in E.CHECKPOINTS)
    assert _ce_after(bug, 200) > 2 * _ce_after(ok, 200)
    assert _ce_after(ok, 200) < 0.5 * _ce_after(ok, 100) and _ce_after(bug, 200) > 0.6 * _ce_after(bug, 100)
    assert bug["accuracy"] < ok["accuracy"]
    assert runs["accuracy_test"]["a_only"] > runs["accuracy_test"]["b_only"] and runs["accuracy_test"]["p_value"] < 0.01
    floor = E.double_softmax_floor(3)
    assert min(bug["history"].losses) > floor


@pytest.mark.claims
def test_adam_hides_the_slowdown_but_not_the_floor(adam_runs):
    """Exercise (Adam): the accuracies end within 0.01; the buggy loss ends just above its floor."""
    floor = E.double_softmax_floor(3)
    for runs in adam_runs:
        assert abs(runs[OK]["accuracy"] - runs[BUG]["accuracy"]) <= 0.01
        assert floor < runs[BUG]["history"].final < floor + 0.01


@pytest.mark.claims
def test_adam_whether_the_buggy_cross_entropy_stalls_depends_on_the_run(adam_runs):
    """Exercise (Adam): at the chapter's seeds the buggy run's cross-entropy stalls far above the correct run's;
    at another seed it ends as low."""
    ratios = [_ce_after(r[BUG], 200) / _ce_after(r[OK], 200) for r in adam_runs]
    assert ratios[0] > 5
    assert min(ratios[1:]) <= 1.0
