"""Checks for the chapter "Probabilities you can trust" (calibration, long tails, Gumbel-softmax).

Every checker builds its inputs in its own seeded ``*_cases`` function with explicit dtypes, so nothing depends on
``torch.get_default_dtype()``. The answer is called on private copies; an answer that changes one of its inputs in
place fails. References come from ``course_pkg``. When an answer matches a known mistake (ECE bins closed on the
wrong side, the per-bin gaps averaged without their weights, the prior added to the true logit only, ...), the
feedback names the mistake; it never shows an expected value.
"""
import torch

from course_pkg.calibration import expected_calibration_error
from course_pkg.gumbel import straight_through
from course_pkg.homework.checking import Feedback, case_generator, compare_tensors, describe_type
from course_pkg.homework.registry import exercise
from course_pkg.losses import logit_adjusted_cross_entropy
from course_pkg.transforms import softmax

F64 = torch.float64
# Float64 answers agree with the reference to ~1e-16; the tolerance leaves room for a correct answer that takes a
# mean in float32 on the way (the widely copied binning loop of Guo et al. does, about 1e-9 off).
F64_TOL = {"atol": 1e-9, "rtol": 1e-6}
F32_TOL = {"atol": 1e-6, "rtol": 1e-5}


def _tol(dtype):
    return F64_TOL if dtype == F64 else F32_TOL


def _require_function(answer):
    if not callable(answer) or isinstance(answer, type):
        raise Feedback(f"expected a function, got {describe_type(answer)}")


def _call(answer, args, names, label):
    """``answer(*copies)``; Feedback if the answer changed one of its tensor inputs in place."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    got = answer(*copies)
    for name, before, after in zip(names, args, copies):
        if isinstance(before, torch.Tensor) and not (before.shape == after.shape and before.dtype == after.dtype
                                                     and torch.equal(before, after.detach())):
            raise Feedback(f"on {label}: your function changed its input `{name}` in place; work on new tensors "
                           f"(`x = x + ...`, not `x += ...` or `x.add_(...)`)")
    return got


def _matches(got, value, dtype) -> bool:
    """Does the answer's value equal ``value`` (a known wrong answer) within the check's tolerance?"""
    if not isinstance(got, torch.Tensor) or got.shape != value.shape or not got.is_floating_point():
        return False
    return bool(torch.isclose(got.detach().double(), value.double(), **_tol(dtype)).all())


# ---------------------------------------------------------------- probabilities.ece

def _ece_variants(probs, labels, n_bins):
    """Known wrong ECEs (in float64) with the hint that names each mistake."""
    conf, pred = probs.double().max(dim=1)
    correct = (pred == labels).double()
    right_closed = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
    left_closed = torch.floor(conf * n_bins).clamp(0, n_bins - 1).long()

    def per_bin(index, weighted=True):
        gaps = [(m.double().mean(), (correct[m].mean() - conf[m].mean()).abs())
                for m in (index == b for b in range(n_bins)) if m.any()]
        if weighted:
            return sum(share * gap for share, gap in gaps)
        return torch.stack([gap for _, gap in gaps]).mean()

    return [
        (per_bin(left_closed), "a confidence exactly on an edge b/M belongs to the bin *below* it: the bins are "
                               "(b/M, (b+1)/M], open on the left, closed on the right (floor(c * M) gives [b/M, (b+1)/M))"),
        (per_bin(right_closed, weighted=False), "each bin's gap must be weighted by its share of the samples, |B_b| / N; "
                                                "a plain mean of the gaps lets a bin of 3 samples count as much as one of 3000"),
        ((correct.mean() - conf.mean()).abs(), "this is |accuracy - mean confidence| over all samples, as if there "
                                               "were a single bin (the same as summing the signed gaps of the bins): "
                                               "take the absolute gap |acc - conf| inside each bin, then sum; otherwise "
                                               "over- and under-confident bins cancel"),
        ((correct.mean() - conf.mean()), "take the absolute gap |acc - conf| of each bin: with signed gaps, "
                                         "over- and under-confident bins cancel (their weighted sum is "
                                         "acc - conf over all samples)"),
    ]


def _away_from_edges(probs, n_bins, margin=1e-6):
    """Keep the rows whose confidence is not within ``margin`` of a bin edge (where float rounding decides the bin)."""
    scaled = probs.max(dim=1).values.double() * n_bins
    return (scaled - scaled.round()).abs() > margin * n_bins


def ece_cases():
    """(label, (probs, labels, n_bins)) for ``probabilities.ece``; explicit dtypes, seeded."""
    g = case_generator(111)

    def random_case(n, c, scale, dtype, n_bins, label_temperature):
        # Labels drawn from softmax(logits / label_temperature): 1 gives a calibrated model (gaps of either sign),
        # larger values an over-confident one, smaller an under-confident one.
        logits = torch.randn(n, c, generator=g, dtype=F64) * scale
        labels = torch.multinomial(softmax(logits / label_temperature), 1, generator=g).squeeze(1)
        probs = softmax(logits).to(dtype)
        keep = _away_from_edges(probs, n_bins)
        return probs[keep], labels[keep], n_bins

    edges = torch.tensor([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0], [0.25, 0.75], [0.5, 0.5], [0.0, 1.0],
                          [0.75, 0.25], [0.625, 0.375]], dtype=F64)
    tie = torch.tensor([[0.43, 0.43, 0.14], [0.1, 0.45, 0.45], [0.35, 0.35, 0.3]], dtype=F64)
    one_hot = torch.eye(3, dtype=F64)[torch.tensor([0, 2, 1, 1, 0])]
    return [
        ("random float64 probabilities (300 x 4), 15 bins", random_case(300, 4, 3.0, F64, 15, 1.0)),
        ("random float64 probabilities (200 x 3), 10 bins", random_case(200, 3, 1.5, F64, 10, 0.5)),
        ("random float64 probabilities, 1 bin", random_case(100, 5, 2.0, F64, 1, 2.0)),
        ("random float32 probabilities (250 x 3), 15 bins", random_case(250, 3, 4.0, torch.float32, 15, 3.0)),
        ("confidences exactly on bin edges (0.5, 0.75, 1.0) with 4 bins",
         (edges, torch.tensor([0, 0, 1, 1, 1, 1, 0, 0]), 4)),
        ("tied probabilities (the prediction is the first maximal index)", (tie, torch.tensor([1, 2, 2]), 5)),
        ("one-hot probabilities, two of five wrong", (one_hot, torch.tensor([0, 2, 0, 1, 1]), 5)),
        ("a single sample", (torch.tensor([[0.1, 0.62, 0.28]], dtype=F64), torch.tensor([1]), 10)),
    ]


@exercise("probabilities.ece", reference=expected_calibration_error, answer="my_ece", time_limit=10,
          forbidden=("course_pkg",))
def _(answer):
    """my_ece(probs, labels, n_bins): count-weighted |acc - conf| over equal-width bins (b/M, (b+1)/M]."""
    _require_function(answer)
    cases = ece_cases()
    for label, (probs, labels, n_bins) in cases:
        got = _call(answer, (probs, labels, n_bins), ("probs", "labels", "n_bins"), label)
        expected = expected_calibration_error(probs, labels, n_bins)
        try:
            compare_tensors(got, expected, what=f"on {label}", **_tol(probs.dtype))
        except Feedback as fb:
            for value, hint in _ece_variants(probs, labels, n_bins):
                if not _matches(value, expected, probs.dtype) and _matches(got, value, probs.dtype):
                    raise Feedback(f"on {label}: {hint}") from None
            raise
    return f"matches the reference on {len(cases)} input sets"


# ---------------------------------------------------------------- probabilities.logit_adjust

def _logit_adjust_reference(logits, target, log_prior, tau):
    return logit_adjusted_cross_entropy(logits.double(), target, log_prior.double(), tau).to(logits.dtype)


def _plain_ce(z, target):
    return -(z - torch.logsumexp(z, dim=1, keepdim=True)).gather(1, target.unsqueeze(1)).mean()


_EVERY_TARGET = ("lp[:, target] takes every sample's target in every row (an (N, N) table); pick one entry per "
                 "row with lp.gather(1, target.unsqueeze(1)) or lp[torch.arange(N), target]")


def _every_target(z, target):
    """The mean of ``-lp[:, target]``, the (N, N) table that indexing with a whole target vector gives."""
    return -(z - torch.logsumexp(z, dim=1, keepdim=True))[:, target].mean()


def _logit_adjust_variants(logits, target, log_prior, tau):
    z, lp = logits.detach().double(), log_prior.double()
    row = lp[target].unsqueeze(1)
    true_only = z + torch.nn.functional.one_hot(target, z.shape[1]).double() * tau * row
    return [
        (_plain_ce(z, target), "this is plain cross-entropy: the adjustment tau * log_prior[j] must be added to every "
                               "logit j (adding the same number to a whole row changes nothing)"),
        (_plain_ce(true_only, target), "tau * log_prior[j] goes on *every* logit j, the softmax's denominator "
                                       "included, not only on the logit of the true class"),
        (_plain_ce(z - tau * lp, target), "sign: inside the loss the prior term is *added*, o_j + tau * log pi_j "
                                          "(subtracting it is the post hoc correction, applied at inference)"),
        (_plain_ce(z + lp, target), "the strength tau multiplies the log prior: o_j + tau * log pi_j"),
        (_plain_ce(z + tau * lp.exp(), target), "add the *log* prior (log_prior is already a logarithm; do not "
                                                "exponentiate it)"),
        (_plain_ce(z + tau * lp, target) * z.shape[0], "average over the batch (mean), do not sum"),
        (_every_target(z + tau * lp, target), _EVERY_TARGET),
    ]


def logit_adjust_cases():
    """(label, (logits, target, log_prior, tau)) for ``probabilities.logit_adjust``; explicit dtypes, seeded."""
    g = case_generator(112)

    def log_prior(counts, dtype):
        c = torch.tensor(counts, dtype=F64)
        return (c / c.sum()).log().to(dtype)

    def case(n, counts, tau, dtype, scale=3.0):
        logits = (torch.randn(n, len(counts), generator=g, dtype=F64) * scale).to(dtype)
        target = torch.randint(0, len(counts), (n,), generator=g)
        return logits, target, log_prior(counts, dtype), tau

    big = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [0.0, 0.0, 1000.0]])
    return [
        ("random float32 logits (16 x 5), a long-tailed prior, tau = 1", case(16, [500, 200, 80, 30, 10], 1.0, torch.float32)),
        ("float32 logits, tau = 0.5", case(12, [60, 30, 10], 0.5, torch.float32)),
        ("float64 logits, tau = 2", case(20, [700, 250, 40, 9], 2.0, F64)),
        ("float64 logits, tau = 0 (plain cross-entropy)", case(6, [3, 2, 1], 0.0, F64)),
        ("logits of +-1000 (float32), tau = 1", (big, torch.tensor([1, 1, 2]), log_prior([900, 90, 10], torch.float32), 1.0)),
        ("a single sample of the rarest class, tau = 1",
         (torch.tensor([[0.5, -1.0, 2.0]], dtype=F64), torch.tensor([2]), log_prior([100, 10, 1], F64), 1.0)),
    ]


@exercise("probabilities.logit_adjust", reference=_logit_adjust_reference, answer="my_logit_adjusted_loss",
          time_limit=10, forbidden=("course_pkg", "torch.nn", "torch.log_softmax", "torch.special.log_softmax",
                                    ".log_softmax"))
def _(answer):
    """my_logit_adjusted_loss(logits, target, log_prior, tau): mean of -log softmax(o + tau log pi)[y], with gradient."""
    _require_function(answer)
    names = ("logits", "target", "log_prior", "tau")
    cases = logit_adjust_cases()
    for label, args in cases:
        logits, target, log_prior, tau = args
        got = _call(answer, args, names, label)
        expected = _logit_adjust_reference(*args)
        try:
            compare_tensors(got, expected, what=f"on {label}", **_tol(logits.dtype))
        except Feedback:
            for value, hint in _logit_adjust_variants(*args):
                if not _matches(value, expected, logits.dtype) and _matches(got, value, logits.dtype):
                    raise Feedback(f"on {label}: {hint}") from None
            raise
        # The loss trains a network: its gradient with respect to the logits must be right too.
        z_got, z_exp = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
        out = answer(z_got, target.clone(), log_prior.clone(), tau)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise Feedback(f"on {label}: the loss is detached from the logits (no gradient flows back); avoid "
                           ".detach(), .item(), NumPy and torch.tensor(...) on intermediate results")
        (g_got,) = torch.autograd.grad(out.sum(), z_got, allow_unused=True)
        (g_exp,) = torch.autograd.grad(_logit_adjust_reference(z_exp, target, log_prior, tau), z_exp)
        if g_got is None:
            raise Feedback(f"on {label}: the loss does not depend on the logits (no gradient)")
        compare_tensors(g_got, g_exp, what=f"gradient on {label}", **_tol(logits.dtype))
    return f"matches the reference on {len(cases)} input sets, values and gradients"


# ---------------------------------------------------------------- probabilities.straight_through

def _gumbel_hard_reference(logits, noise, tau):
    soft = softmax((logits + noise) / tau, dim=-1)
    hard = straight_through(logits + noise)                     # one-hot of argmax(logits + noise), first on ties
    return hard.detach() + (soft - soft.detach())


def gumbel_cases():
    """(label, (logits, noise, tau)) for ``probabilities.straight_through``; explicit dtypes, seeded."""
    g = case_generator(113)

    def gumbel(shape, dtype):
        u = torch.rand(shape, generator=g, dtype=F64).clamp(1e-12, 1 - 1e-12)
        return (-torch.log(-torch.log(u))).to(dtype)

    def case(shape, tau, dtype, scale=1.0):
        return (torch.randn(shape, generator=g, dtype=F64) * scale).to(dtype), gumbel(shape, dtype), tau

    f64 = case((6, 3), 2.0, F64)
    return [
        ("random float32 logits (8, 5), tau = 1", case((8, 5), 1.0, torch.float32)),
        ("float32 logits (8, 4), tau = 0.5", case((8, 4), 0.5, torch.float32, scale=2.0)),
        ("float64 logits (6, 3), tau = 2", f64),
        ("float64 logits, the same noise, tau = 0.3", (f64[0], f64[1], 0.3)),
        ("a tie in logits + noise (first index wins)",
         (torch.zeros(2, 3, dtype=F64), torch.tensor([[0.5, 0.5, 0.1], [0.2, 0.7, 0.7]], dtype=F64), 1.0)),
        ("a 3-D batch (2, 3, 4), tau = 1", case((2, 3, 4), 1.0, torch.float32)),
    ]


def _gumbel_variants(logits, noise, tau, weights):
    """Known wrong answers: (forward value, gradient of (value * weights).sum() or None, hint)."""
    def st(soft_input, hard_input):
        z = logits.detach().double().clone().requires_grad_(True)
        soft = torch.softmax(soft_input(z), dim=-1)
        hard = straight_through(hard_input(z).detach())
        y = hard.detach() + (soft - soft.detach())
        (grad,) = torch.autograd.grad((y * weights.double()).sum(), z)
        return y.detach(), grad

    n = noise.double()
    return [
        (*st(lambda z: z + n, lambda z: z + n), "the soft sample whose gradient passes straight through is "
                                                "softmax((logits + noise) / tau): divide by the temperature"),
        (*st(lambda z: z / tau, lambda z: z + n), "the gradient should be that of softmax((logits + noise) / tau): "
                                                  "the noise belongs in the soft sample too"),
    ]


@exercise("probabilities.straight_through", reference=_gumbel_hard_reference, answer="gumbel_hard", time_limit=10)
def _(answer):
    """gumbel_hard(logits, noise, tau): one-hot of argmax(logits + noise) forward, softmax((logits + noise)/tau) gradient."""
    _require_function(answer)
    names = ("logits", "noise", "tau")
    cases = gumbel_cases()
    g = case_generator(114)
    rounded_off = None   # (label, entry) one-hot only up to rounding: reported after every more specific check
    for label, (logits, noise, tau) in cases:
        got = _call(answer, (logits, noise, tau), names, label)
        expected = _gumbel_hard_reference(logits, noise, tau)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.is_floating_point():
            values = got.detach()
            if not bool(((values == 0) | (values == 1)).all()) or not bool((values.sum(-1) == 1).all()):
                nearest = values.round()
                off = (values - nearest).abs()
                one_hot_up_to_rounding = (bool(((nearest == 0) | (nearest == 1)).all())
                                          and bool((nearest.sum(-1) == 1).all())
                                          and float(off.max()) <= 4 * torch.finfo(values.dtype).eps)
                if not one_hot_up_to_rounding:
                    raise Feedback(f"on {label}: the forward value is not exactly one-hot (one 1 per row, zeros "
                                   "elsewhere; with a tie only the first maximal index gets the 1)")
                if rounded_off is None:
                    rounded_off = (label, values.flatten()[int(off.flatten().argmax())].item())
        try:
            compare_tensors(got, expected, what=f"forward value on {label}", **_tol(logits.dtype))
        except Feedback:
            if _matches(got, straight_through(logits.detach()).detach(), logits.dtype):
                raise Feedback(f"on {label}: the hard sample is the one-hot of argmax(logits + noise); without "
                               "the noise it is always the most likely class, not a random draw") from None
            raise
        z_got, z_exp = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
        y_got = answer(z_got, noise.clone(), tau)
        if not y_got.requires_grad:
            raise Feedback(f"on {label}: the output is detached from the logits, so no gradient reaches them; "
                           "add a term that is zero in value but carries the soft sample's gradient")
        weights = torch.randn(logits.shape, generator=g, dtype=F64).to(logits.dtype)
        (g_got,) = torch.autograd.grad((y_got * weights).sum(), z_got, allow_unused=True)
        (g_exp,) = torch.autograd.grad((_gumbel_hard_reference(z_exp, noise, tau) * weights).sum(), z_exp)
        if g_got is None:
            raise Feedback(f"on {label}: the output does not depend on the logits (no gradient)")
        try:
            compare_tensors(g_got, g_exp, what=f"gradient on {label}", **_tol(logits.dtype))
        except Feedback:
            for value, grad, hint in _gumbel_variants(logits, noise, tau, weights):
                same_value = _matches(y_got, value, logits.dtype)
                if same_value and _matches(g_got, grad, logits.dtype) and not _matches(g_exp, grad, logits.dtype):
                    raise Feedback(f"on {label}: {hint}") from None
            raise
    if rounded_off is not None:
        label, entry = rounded_off
        raise Feedback(f"on {label}: the forward value is one-hot only up to rounding (an entry is {entry!r}): "
                       "the order of operations, (hard + soft) - soft, rounds. Write hard + (soft - soft.detach()) "
                       "or, as PyTorch does, hard - soft.detach() + soft")
    return f"one-hot forward and straight-through gradient on {len(cases)} input sets"
