"""The checking core: statuses, junk answers, time limits, tolerances, and feedback that never shows the answer."""
import math
import signal
import time

import numpy as np
import pytest
import torch

from course_pkg.homework import CheckResult, Feedback, Status, check, check_quietly, load_all, load_errors
from course_pkg.homework.checking import call_with_time_limit, check_function, compare_tensors, run_checker

SECRET = 0.123456789  # the "expected" value; no feedback line may contain it


def reference(x):
    return x * 2 + SECRET


def checker(answer):
    g = torch.Generator().manual_seed(0)
    cases = [("a random vector", (torch.randn(5, generator=g),)),
             ("extremes ±1e30", (torch.tensor([-1e30, 0.0, 1e30]),)),
             ("float64 input", (torch.randn(3, dtype=torch.float64, generator=g),))]
    return check_function(answer, reference, cases, atol=1e-6, rtol=1e-6, grad=True)


def run(answer, time_limit=1.0):
    return run_checker("core.double", checker, answer, time_limit=time_limit)


def good(x):
    return 2 * x + SECRET


def spin_with_bare_except(x):
    while True:
        try:
            x = x + 1
        except:  # noqa: E722 - what a student might write
            pass


def sleep_with_bare_except(x):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722
            pass


def helper_swallows():
    try:
        time.sleep(0.01)
    except BaseException:
        pass


def loop_calling_helper(x):
    while True:
        helper_swallows()


def swallow_then_return(x):
    try:
        while True:
            pass
    except BaseException:
        return good(x)


def test_reference_answer_passes():
    result = run(good)
    assert result.status is Status.PASSED and "3 input sets" in result.message


@pytest.mark.parametrize("answer", [None, ...])
def test_unanswered_is_not_attempted(answer):
    assert run(answer).status is Status.NOT_ATTEMPTED


def test_stub_is_not_attempted():
    def stub(x):
        raise NotImplementedError("Exercise core.double: replace this line")
    assert run(stub).status is Status.NOT_ATTEMPTED


@pytest.mark.parametrize("answer, words", [
    ("a string", "a str"), ([1, 2], "a list"), (np.zeros(3), "NumPy array"), (3.0, "Python float"),
    (torch.zeros(3), "a tensor"), (torch.nn.Linear, "class"),
])
def test_junk_answers_fail_with_a_type_message(answer, words):
    result = run(answer)
    assert result.status is Status.FAILED and words in result.message, result


@pytest.mark.parametrize("answer, words", [
    (lambda x: None, "forget `return`"),
    (lambda x: (2 * x + SECRET).detach().numpy(), "NumPy"),
    (lambda x: [2 * x + SECRET], "a list"),
    (lambda x: float((2 * x + SECRET).sum().detach()), "Python float"),
    (lambda x: (2 * x + SECRET)[None], "wrong shape (1, 5)"),
    (lambda x: (2 * x + SECRET).float(), "wrong dtype torch.float32"),
    (lambda x: (2 * x + SECRET) * float("nan"), "NaN"),
    (lambda x: 2 * x + SECRET + 1e-3, "differ from the reference"),
    (lambda x: (2 * x + SECRET).detach(), "detached from the graph"),
    (lambda x: torch.tensor((2 * x + SECRET).tolist(), dtype=x.dtype, requires_grad=True), "does not depend"),
    (lambda x: 2 * x.detach() + SECRET + 0 * x.sum().detach(), "detached"),
    (lambda x: 2 * x.detach() + SECRET + 0 * x, "gradient on"),
    (lambda x: torch.exp(x) * 0 + 2 * x + SECRET, "NaN"),
])
def test_wrong_answers_fail_with_a_helpful_line_and_no_expected_values(answer, words):
    result = run(answer)
    assert result.status is Status.FAILED, result
    assert words in result.message, result
    assert "0.1234" not in result.message and "\n" not in result.message


def test_overflow_is_named():
    result = run(lambda x: torch.where(x.abs() > 1e20, x * 1e30, 2 * x + SECRET))
    assert result.status is Status.FAILED and "inf" in result.message


@pytest.mark.parametrize("answer, words", [
    (lambda x: 1 / 0, "ZeroDivisionError"),
    (lambda x, y: x, "TypeError"),
    (lambda x: __import__("sys").exit(3), "SystemExit"),
    (lambda x: x.reshape(7, 7), "RuntimeError"),
])
def test_raising_answers_are_errors(answer, words):
    result = run(answer)
    assert result.status is Status.ERROR and words in result.message, result


def test_in_place_modification_of_a_leaf_is_an_error_not_a_crash():
    result = run(lambda x: x.mul_(2).add_(SECRET))
    assert result.status in (Status.ERROR, Status.FAILED)


def test_recursion_is_an_error():
    def forever(x):
        return forever(x)
    result = run(forever)
    assert result.status is Status.ERROR and "RecursionError" in result.message


@pytest.mark.parametrize("answer", [spin_with_bare_except, sleep_with_bare_except, loop_calling_helper,
                                    swallow_then_return, lambda x: time.sleep(30)])
def test_endless_answers_are_stopped(answer):
    start = time.monotonic()
    result = run(answer, time_limit=0.3)
    assert time.monotonic() - start < 5
    assert result.status is Status.ERROR and "did not return within 0.3 s" in result.message


def test_time_limit_restores_signal_state():
    before = signal.getsignal(signal.SIGALRM)
    run(spin_with_bare_except, time_limit=0.2)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert call_with_time_limit(lambda: 5, seconds=0.1) == 5


def test_time_limit_outside_the_main_thread():
    import threading
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", run(lambda x: time.sleep(3), time_limit=0.2)))
    t.start()
    t.join(5)
    assert box["r"].status is Status.ERROR


def test_check_works_under_no_grad_and_restores_torch_state():
    def messy(x):
        torch.set_default_dtype(torch.float64)
        return 2 * x + SECRET
    with torch.no_grad():
        assert run(good).status is Status.PASSED
        assert not torch.is_grad_enabled()
    run(messy)
    assert torch.get_default_dtype() is torch.float32


def test_checker_bug_is_reported_as_such():
    def broken_reference(x):
        raise ValueError("bug")
    result = run_checker("core.x", lambda a: check_function(a, broken_reference, [("v", (torch.ones(2),))], atol=0),
                         good, time_limit=1)
    assert result.status is Status.ERROR and "checker itself" in result.message


def test_broken_exception_str_does_not_crash():
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")
    def answer(x):
        raise Weird()
    assert run(answer).status is Status.ERROR


def test_compare_tensors_direct():
    compare_tensors(torch.tensor([1.0, float("inf")]), torch.tensor([1.0, float("inf")]), what="w", atol=0)
    with pytest.raises(Feedback, match="wrong dtype"):
        compare_tensors(torch.ones(2, dtype=torch.float64), torch.ones(2), what="w", atol=0)
    with pytest.raises(Feedback, match="expected a torch.Tensor, got a NumPy array"):
        compare_tensors(np.ones(2), torch.ones(2), what="w", atol=0)
    with pytest.raises(Feedback, match="some entries differ"):
        compare_tensors(torch.tensor([True]), torch.tensor([False]), what="w", atol=0)


def test_check_prints_one_line_and_returns_none(capsys):
    assert check("regression.scale_to_range", None) is None
    out = capsys.readouterr().out
    assert out == "[NOT ATTEMPTED] regression.scale_to_range (Exercise 3.1): no answer yet (replace the stub)\n"


def test_unknown_id_is_an_error_listing_known_ids():
    result = check_quietly("nope.nothing", good)
    assert result.status is Status.ERROR and "regression.scale_to_range" in result.message


def test_result_str():
    assert str(CheckResult("a.b", Status.FAILED, "why")) == "[FAILED] a.b: why"
    assert CheckResult("a.b", Status.PASSED).passed


def test_every_chapter_module_loads_and_registers_valid_ids():
    assert load_errors() == {}
    registry = load_all()
    assert "regression.scale_to_range" in registry
    for ex_id, ex in registry.items():
        assert ex_id.count(".") == 1 and ex.time_limit > 0


@pytest.mark.parametrize("junk", [None, ..., "to_range", [1.0], np.array([1.0]), float("nan"), torch.tensor(float("nan"))])
def test_every_registered_check_survives_junk(junk):
    for ex_id in load_all():
        result = check_quietly(ex_id, junk)
        assert isinstance(result, CheckResult) and result.status is not Status.PASSED, (ex_id, result)


# --------------------------------------------------------------------------- plan, probe, judge (issue 11)

def test_a_fresh_seed_draws_fresh_inputs_and_the_default_seed_the_notebook_ones():
    from course_pkg.homework import replay
    ex = load_all()["regression.scale_to_range"]
    first, again, other = (replay.plan_exercise(ex, seed=s) for s in (0, 0, 12345))
    assert first["calls"] == again["calls"]
    # call 0 is the fixed o = 0 slope diagnosis, call 1 the random case, call 2 the fixed ±1000 case
    assert first["calls"][0]["args"] == other["calls"][0]["args"]
    assert first["calls"][1]["args"] != other["calls"][1]["args"]
    assert first["calls"][2]["args"] == other["calls"][2]["args"]


def test_the_verdict_comes_from_recorded_bytes_not_from_the_answer_object():
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in ("isclose", "eq", "__eq__"):
                return torch.ones(args[0].shape, dtype=torch.bool)
            return super().__torch_function__(func, types, args, kwargs or {})

    result = check_quietly("regression.scale_to_range", lambda o, lo, hi: (o * 0).as_subclass(Liar))
    assert result.status is Status.FAILED, result


@pytest.mark.parametrize("exercise_id, answer", [
    ("binary.predict_labels", lambda z, t: (z.clamp_(-30, 30) > math.log(t / (1 - t))).long()),
    ("practices.predict_multiclass",
     lambda z: (torch.softmax(z.sub_(z.amax(-1, keepdim=True)), -1), torch.argmax(z, -1))),
    ("practices.loss_fn", lambda z, y: torch.nn.functional.cross_entropy(z.data.sub_(z.data.amax(1, keepdim=True))
                                                                          if not z.requires_grad else z, y)),
    ("probabilities.ece", lambda p, y, m: _ece_clamping(p, y, m)),
    ("distance.triplet_loss", lambda a, p, n, m: _triplet_in_place(a, p, n, m)),
    ("regression.fixed_mse", lambda p, t: ((p.reshape(-1) - t.data.mul_(1.0).add_(0.0).clamp_(-1, 1)) ** 2).mean()),
])
def test_answers_that_modify_their_input_in_place_fail(exercise_id, answer):
    result = check_quietly(exercise_id, answer)
    assert result.status is Status.FAILED and "in place" in result.message, result


def _ece_clamping(probs, labels, n_bins):
    from course_pkg.calibration import expected_calibration_error
    probs.clamp_(min=1e-3)
    return expected_calibration_error(probs, labels, n_bins)


def _triplet_in_place(anchor, positive, negative, margin):
    from course_pkg.embeddings import triplet_loss
    negative.data.mul_(1.5)
    return triplet_loss(anchor, positive, negative / 1.5, margin=margin)


@pytest.fixture
def float64_default():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_a_float64_default_dtype_does_not_change_the_check_inputs(float64_default):
    import torch.nn.functional as F
    naive = check_quietly("binary.predict_labels", lambda z, t: (torch.sigmoid(z) > t).float())
    assert naive.status is Status.FAILED and "1 - 1e-9" in naive.message, naive
    log_of_softmax = check_quietly("practices.loss_fn", lambda z, y: F.nll_loss(torch.log(torch.softmax(z, 1)), y))
    assert log_of_softmax.status is Status.FAILED, log_of_softmax
    master = check_quietly("binary.fixed_loss", lambda z, y: torch.nn.BCEWithLogitsLoss()(z, y))
    assert master.status is Status.PASSED, master
    assert torch.get_default_dtype() is torch.float64   # the notebook's own setting is left as it was


def test_recorded_exceptions_keep_their_type_and_message():
    class MyError(ValueError):
        pass

    def raises(o, lo, hi):
        raise MyError("custom")
    result = check_quietly("regression.scale_to_range", raises)
    assert result.status is Status.ERROR and "MyError: custom" in result.message


def test_a_timeout_while_the_machine_waits_for_a_cpu_is_not_the_students_error():
    from course_pkg.homework import replay
    ex = load_all()["regression.scale_to_range"]
    spec = replay.plan_exercise(ex, seed=3)
    loaded = {"format": 1, "answer": {"kind": "callable"},
              "calls": [{"status": "timeout", "cpu_s": 0.5, "wall_s": 10.0, "waited_s": 8.0, "limit_s": 5}]}
    result, _ = replay.judge(ex, spec, loaded)
    assert result.status is Status.ERROR and "under load" in result.message and "regrade" in result.message
    idle = {**loaded, "calls": [{**loaded["calls"][0], "waited_s": 0.1, "cpu_s": 9.8}]}
    result, _ = replay.judge(ex, spec, idle)
    assert result.status is Status.ERROR and "did not return within 5 s" in result.message


@pytest.mark.parametrize("record", [None, {}, {"format": 1}, {"format": 1, "answer": {"kind": "callable"}, "calls": "x"},
                                    {"format": 1, "answer": {"kind": "callable"}, "calls": [{"status": "returned",
                                     "output": {"kind": "tensor", "dtype": "float32", "shape": [9], "data": "!!"}}]}])
def test_malformed_probe_records_give_an_error_never_a_crash(record):
    from course_pkg.homework import replay
    ex = load_all()["regression.scale_to_range"]
    result, _ = replay.judge(ex, replay.plan_exercise(ex, seed=4), record)
    assert result.status in (Status.ERROR, Status.FAILED, Status.NOT_ATTEMPTED)
    assert result.status is not Status.PASSED


def test_forged_plain_data_that_matches_the_reference_is_what_passing_means():
    """The judge trusts bytes, not code: a record with the reference's outputs passes, so a forger needs the
    reference, which the scan flags (test_grading.py); a record with other bytes fails."""
    from course_pkg.homework import probe, replay
    from course_pkg.transforms import scale_to_range
    ex = load_all()["regression.scale_to_range"]
    spec = replay.plan_exercise(ex, seed=5)
    honest = replay.roundtrip(probe.probe_exercise(scale_to_range, spec))
    assert replay.judge(ex, spec, honest)[0].status is Status.PASSED
    forged = replay.roundtrip(probe.probe_exercise(lambda o, lo, hi: scale_to_range(o, lo, hi) * 1.01, spec))
    assert replay.judge(ex, spec, forged)[0].status is Status.FAILED


def test_every_check_can_be_judged_outside_the_kernel():
    """Each exercise has a reference that passes its own check, so the grader can record its plan
    (a check without one still works in a notebook; course_pkg/homework/exercises/__init__.py says how to convert it)."""
    from course_pkg.homework import replay
    for ex_id, ex in load_all().items():
        assert ex.reference is not None, f"{ex_id}: no reference= (see course_pkg/homework/exercises/__init__.py)"
        spec = replay.plan_exercise(ex, seed=99)
        assert spec["calls"], ex_id
