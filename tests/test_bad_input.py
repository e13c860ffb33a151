"""Every public function of course_pkg, fed bad input, raises a clear error that names the argument.

The completeness test fails when a module gains a public function (listed in
its ``__all__``) without an entry here, so new functions cannot skip this.
"""
import importlib
import math
import pkgutil

import pytest
import torch

import course_pkg

NAN = float("nan")
I64 = torch.tensor([1, 2])
F2 = torch.zeros(2)
M32 = torch.zeros(3, 2)

# name -> list of (args, kwargs, exception type, regex the message must match)
BAD_INPUTS = {
    # transforms
    "transforms.identity": [(([1.0],), {}, TypeError, "o must be a torch.Tensor, got list")],
    "transforms.relu": [((I64,), {}, TypeError, "o must be a floating-point tensor.*int64")],
    "transforms.softplus": [(("x",), {}, TypeError, "o must be a torch.Tensor, got str"),
                            ((F2,), {"beta": -1}, ValueError, "beta must be > 0"),
                            ((F2,), {"beta": NAN}, ValueError, "beta must be finite")],
    "transforms.sigmoid": [((torch.tensor([True]),), {}, TypeError, "o must be a floating-point tensor.*bool")],
    "transforms.tanh": [((None,), {}, TypeError, "o must be a torch.Tensor, got NoneType")],
    "transforms.threshold": [((F2,), {"at": "0"}, TypeError, "at must be a real number")],
    "transforms.scale_to_range": [((F2, 1.0, 0.0), {}, ValueError, "low < high"),
                                  ((F2, NAN, 1.0), {}, ValueError, "low must be finite")],
    "transforms.logsumexp": [((torch.tensor(1.0),), {}, ValueError, "o must have at least 1 dimension")],
    "transforms.softmax": [((torch.zeros(2, 3),), {"dim": 2}, ValueError, "dim=2 is out of range")],
    "transforms.log_softmax": [((torch.zeros(2, 3),), {"dim": "1"}, TypeError, "dim must be an int")],
    "transforms.argmax": [((torch.tensor([0.0, NAN]),), {}, ValueError, "o contains NaN")],
    "transforms.one_hot_max": [((I64,), {}, TypeError, "floating-point tensor")],
    "transforms.l2_normalize": [((torch.zeros(2, 2),), {"eps": 0}, ValueError, "eps must be > 0")],
    "transforms.naive_sigmoid": [((I64,), {}, TypeError, "floating-point tensor")],
    "transforms.naive_softmax": [(([1.0],), {}, TypeError, "torch.Tensor")],
    "transforms.naive_log_softmax": [((I64,), {}, TypeError, "floating-point tensor")],
    "transforms.naive_l2_normalize": [((torch.tensor(1.0),), {}, ValueError, "at least 1 dimension")],
    "transforms.monotone_quantiles": [((I64,), {}, TypeError, "o must be a floating-point tensor"),
                                      ((torch.tensor(1.0),), {}, ValueError, "o must have at least 1 dimension"),
                                      ((torch.zeros(2, 0),), {}, ValueError, "o must have at least one column")],
    "transforms.mixture_parameters": [((torch.zeros(2, 4),), {}, ValueError, r"o must have shape \(N, 3K\)"),
                                      ((F2,), {}, ValueError, "o must have at least 2 dimension")],
    # losses
    "losses.mse": [((torch.zeros(3, 1), torch.zeros(3)), {}, ValueError, r"pred and target must have the same shape")],
    "losses.bce_with_logits": [((F2, I64), {}, TypeError, "target must be a floating-point tensor"),
                               ((F2, F2), {"pos_weight": 0}, ValueError, "pos_weight must be > 0")],
    "losses.cross_entropy": [((torch.zeros(2, 3), torch.tensor([0, 5])), {}, ValueError, "0..2"),
                             ((torch.zeros(2, 3), torch.tensor([0.0, 1.0])), {}, ValueError, "same shape"),
                             ((torch.zeros(3), torch.tensor([0])), {}, ValueError, "at least 2 dimension")],
    "losses.nll_loss": [((torch.zeros(2, 3), torch.tensor([0, 1], dtype=torch.int32)), {}, TypeError,
                         "int64 class indices or float class probabilities")],
    "losses.bce_on_probabilities": [((F2, torch.zeros(3)), {}, ValueError, "probs and target must have the same shape")],
    "losses.naive_bce_after_sigmoid": [(([0.0], F2), {}, TypeError, "o must be a torch.Tensor")],
    "losses.naive_cross_entropy_after_softmax": [((torch.zeros(2, 3), torch.tensor([0, 3])), {}, ValueError, "0..2"),
                                                 ((torch.zeros(3), torch.tensor([0])), {}, ValueError,
                                                  "logits must have at least 2 dimension")],
    "losses.triplet_loss": [((M32, M32, M32), {"margin": -1}, ValueError, "margin must be >= 0"),
                            ((M32, M32, torch.zeros(3, 3)), {}, ValueError,
                             "anchor and negative must have the same shape")],
    "losses.contrastive_loss": [((M32, M32, torch.zeros(2)), {}, ValueError, r"same must have shape \(N,\)")],
    "losses.cosine_cross_entropy": [((M32, torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64)), {}, ValueError,
                                     r"z and weight must have shapes \(N, D\) and \(C, D\)"),
                                    ((M32, torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64)), {"scale": -1},
                                     ValueError, "scale must be > 0")],
    # data
    "data.make_regression": [((), {"n": -1}, ValueError, "n must be a positive int")],
    "data.make_bounded_regression": [((), {"low": 2.0, "high": 1.0}, ValueError, "low < high")],
    "data.make_positive_regression": [((), {"in_features": 0}, ValueError, "in_features must be a positive int")],
    "data.make_lognormal_regression": [((), {"noise": -1.0}, ValueError, "noise must be a finite number >= 0"),
                                       ((), {"in_features": 0}, ValueError, "in_features must be a positive int")],
    "data.make_binary": [((), {"n": 2.5}, ValueError, "n must be a positive int")],
    "data.make_multiclass": [((), {"num_classes": 0}, ValueError, "num_classes must be a positive int")],
    "data.subsample_class": [((M32, torch.zeros(3, 1), 0.0, 0.0), {}, ValueError, r"fraction must lie in \(0, 1\]"),
                             (([1.0], torch.zeros(3), 0.0, 0.5), {}, TypeError, "x must be a torch.Tensor, got list")],
    # models
    "models.MLP": [((0, 1), {}, ValueError, "in_features must be a positive int"),
                   ((2, 1), {"hidden": (0,)}, ValueError, "hidden must be a sequence of positive ints")],
    # training
    "training.train": [((torch.nn.Linear(1, 1), "mse", torch.zeros(2, 1), torch.zeros(2, 1)), {}, TypeError,
                        "loss_fn must be callable"),
                       ((torch.nn.Linear(1, 1), lambda o, y: o.sum(), torch.zeros(2, 1), torch.zeros(2, 1)),
                        {"steps": 0}, ValueError, "steps must be a positive int")],
    # gradients
    "gradients.gradient_flow": [((torch.sigmoid, [0.0]), {}, TypeError, "o must be a torch.Tensor")],
    "gradients.gradient_table": [(({}, [0.0]), {}, TypeError, "transforms must be a non-empty dict"),
                                 (({"id": lambda o: o}, [0.0]), {"dtype": "float32"}, TypeError,
                                  "dtype must be a floating torch.dtype")],
    # plotting
    "plotting.new_figure": [((), {"ncols": 0}, ValueError, "ncols")],
    "plotting.plot_functions": [(({"s": torch.sigmoid},), {"o_range": (2, 1)}, ValueError, "min < max")],
    "plotting.plot_histories": [(([1.0, 2.0],), {}, TypeError, "histories must be a non-empty dict")],
    "plotting.plot_regression_fit": [(([0.0], F2, {}), {}, TypeError, "x must be a torch.Tensor")],
    "plotting.plot_decision_regions": [((lambda g: g, torch.zeros(3, 3), I64), {}, ValueError, r"x must have shape \(N, 2\)")],
    # runtime
    "runtime.get_device": [(("gpu",), {}, ValueError, "prefer must be None, 'cpu' or 'cuda'")],
    "runtime.seed_everything": [(("0",), {}, TypeError, "seed must be a non-negative int")],
    "runtime.generator": [((-3,), {}, TypeError, "seed must be a non-negative int")],
    # outputs with structure (counts, ordinal labels, directions, sparsemax)
    "transforms.sparsemax": [(([1.0, 2.0],), {}, TypeError, "o must be a torch.Tensor, got list"),
                             ((I64,), {}, TypeError, "o must be a floating-point tensor.*int64"),
                             ((torch.tensor([0.0, NAN]),), {}, ValueError, "o contains NaN"),
                             ((M32,), {"dim": 2}, ValueError, "dim=2 is out of range")],
    "losses.poisson_nll": [((F2, torch.tensor([1.0, -1.0])), {}, ValueError, "target must hold counts >= 0"),
                           ((F2, I64), {}, TypeError, "target must be a floating-point tensor"),
                           ((F2, torch.zeros(2, 1)), {}, ValueError, "log_rate and target must have the same shape")],
    "losses.coral_loss": [((M32, torch.tensor([0, 1, 3])), {}, ValueError, r"target must hold labels in 0\.\.2"),
                          ((M32, torch.tensor([0.0, 1.0, 2.0])), {}, TypeError, "target must be int64 labels"),
                          ((M32, torch.tensor([0, -1, 1])), {}, ValueError, "target must hold labels in 0"),
                          ((F2, torch.tensor([0, 1])), {}, ValueError, "logits must have at least 2 dimension"),
                          ((M32, torch.tensor([0, 1])), {}, ValueError, r"target must have shape \(N,\)")],
    "losses.von_mises_nll": [((F2, torch.tensor([1.0, 0.0]), F2), {}, ValueError, "concentration must be > 0"),
                             ((F2, torch.tensor([1.0, -2.0]), F2), {}, ValueError, "concentration must be > 0"),
                             ((F2, F2 + 1, torch.zeros(3)), {}, ValueError, "loc and angle must have the same shape"),
                             ((I64, F2 + 1, F2), {}, TypeError, "loc must be a floating-point tensor")],
    "inference.predict_ordinal": [((I64.view(1, 2),), {}, TypeError, "logits must be a floating-point tensor"),
                                  ((torch.tensor([[0.0, NAN]]),), {}, ValueError, "logits contains NaN")],
    "inference.predict_angle": [((M32.T,), {}, ValueError, r"o must have shape \(\.\.\., 2\)"),
                                (([1.0, 0.0],), {}, TypeError, "o must be a torch.Tensor, got list")],
    "models.CoralHead": [((1,), {}, ValueError, "num_classes must be an int >= 2")],
    "models.AttentionPool": [((3, "softmax"), {}, TypeError, "normalize must be callable")],
    "data.count_rate": [((I64,), {}, TypeError, "x must be a floating-point tensor")],
    "data.make_counts": [((), {"n": 0}, ValueError, "n must be a positive int")],
    "data.make_ordinal": [((), {"num_classes": 1}, ValueError, "num_classes must be >= 2"),
                          ((), {"noise": -1.0}, ValueError, "noise must be >= 0")],
    "data.angle_direction": [((I64,), {}, TypeError, "x must be a floating-point tensor")],
    "data.make_angles": [((), {"n": "5"}, ValueError, "n must be a positive int")],
    "data.make_selection": [((), {"items": 0}, ValueError, "items must be a positive int")],
    "metrics.mean_poisson_deviance": [((torch.tensor([1.0, 0.0]), F2), {}, ValueError, "rate must be > 0"),
                                      ((F2 + 1, torch.tensor([-1.0, 1.0])), {}, ValueError, "target must hold counts"),
                                      ((F2 + 1, torch.zeros(3)), {}, ValueError, "rate and target must have the same")],
    "metrics.angular_error": [((I64, F2), {}, TypeError, "pred must be a floating-point tensor"),
                              ((F2, torch.zeros(3)), {}, ValueError, "pred and target must have the same shape")],
    "metrics.mean_angular_error": [((F2, I64), {}, TypeError, "target must be a floating-point tensor"),
                                   ((F2, torch.zeros(3)), {}, ValueError, "pred and target must have the same shape")],
    "plotting.plot_curves": [((F2, {}), {}, TypeError, "panels must be a non-empty dict"),
                             ((M32, {"a": {"b": F2}}), {}, ValueError, "x must be a 1-D grid")],
    "plotting.plot_angles": [((F2, F2, {}), {}, ValueError, r"x must have shape \(N, 1\)"),
                             ((torch.zeros(3, 1), F2, {}), {}, ValueError, "theta must hold one angle per input")],
    # decisions
    "decisions.logit_threshold": [((1.5,), {}, ValueError, r"threshold_prob must lie in the open interval \(0, 1\)")],
    "decisions.predict_labels": [((I64,), {}, TypeError, "logits must be a floating-point tensor"),
                                 ((F2,), {"threshold_prob": 0}, ValueError, "threshold_prob must lie in")],
    "metrics.accuracy": [((torch.tensor([0.5, 1.0]), F2), {}, ValueError, "pred must hold labels"),
                         ((torch.zeros(3), F2), {}, ValueError, "pred and target must have the same shape")],
    "metrics.mcnemar_test": [((torch.tensor([1, 0]), torch.tensor([1, 0, 1])), {}, ValueError,
                              "correct_a and correct_b must have the same shape"),
                             ((torch.tensor([2, 0]), torch.tensor([1, 0])), {}, ValueError,
                              "correct_a must hold only the labels 0 and 1")],
    "metrics.paired_bootstrap": [((F2, torch.zeros(3)), {}, ValueError, "score_a and score_b must have the same shape"),
                                 ((F2, F2), {"resamples": 5}, ValueError, "resamples must be an int >= 10"),
                                 ((F2, F2), {"confidence": 1.0}, ValueError, "confidence must lie in the open")],
    "metrics.wilson_interval": [((5, 4), {}, ValueError, "successes must lie in 0..n=4"),
                                ((1, 0), {}, ValueError, "n must be a positive int"),
                                ((1.5, 4), {}, TypeError, "successes must be an int"),
                                ((1, 4), {"confidence": 1.0}, ValueError, "confidence must lie in the open interval")],
    "metrics.interval_coverage": [((F2, F2, torch.zeros(3)), {}, ValueError, "lower and target must have the same shape"),
                                  ((F2, I64, F2), {}, TypeError, "upper must be a floating-point tensor"),
                                  ((torch.zeros(0), torch.zeros(0), torch.zeros(0)), {}, ValueError,
                                   "target must hold at least one value")],
    "metrics.binary_counts": [((torch.tensor([0.0, 2.0]), F2), {}, ValueError, "pred must hold only the labels 0 and 1"),
                                ((F2, torch.zeros(3)), {}, ValueError, "pred and target must have the same shape")],
    "decisions.threshold_table": [((F2, torch.zeros(3), [0.5]), {}, ValueError, "logits and target must have the same shape")],
    "gradients.loss_and_gradient": [(("bce", 0.0, 1.0), {}, TypeError, "loss_fn must be callable"),
                                    ((lambda a, b: a, 0.0, 1.0), {"dtype": torch.int64}, TypeError,
                                     "dtype must be a floating torch.dtype")],
    # calibration
    "calibration.apply_temperature": [((F2, 0.0), {}, ValueError, "T must be > 0"),
                                      ((I64, 1.0), {}, TypeError, "logits must be a floating-point tensor")],
    "calibration.reliability_curve": [((M32, torch.zeros(2, dtype=torch.int64)), {}, ValueError,
                                       r"labels must be int64 class indices of shape \(N,\)"),
                                      ((M32, torch.zeros(3, dtype=torch.int64)), {"n_bins": 0}, ValueError,
                                       "n_bins must be a positive int")],
    "calibration.expected_calibration_error": [(([0.5], I64), {}, TypeError, "probs must be a torch.Tensor, got list")],
    "calibration.fit_temperature": [((M32, torch.zeros(3)), {}, ValueError, "must have the same shape")],
    # embeddings
    "embeddings.euclidean_distance": [((M32, torch.zeros(3, 3)), {}, ValueError, "a and b must have the same shape")],
    "embeddings.pairwise_distances": [((F2,), {}, ValueError, "a must have at least 2 dimension")],
    "embeddings.cosine_similarity": [((M32, M32), {"eps": 0}, ValueError, "eps must be > 0")],
    "embeddings.cosine_distance": [((M32, "b"), {}, TypeError, "b must be a torch.Tensor, got str")],
    "embeddings.pair_distances": [((M32, torch.zeros(3)), {}, ValueError,
                                   r"labels must be an int64 tensor of shape \(3,\)")],
    "embeddings.verification_accuracy": [((F2, torch.tensor([True, True])), {"threshold": 1.0}, ValueError,
                                          "same must contain both")],
    "embeddings.best_threshold": [((F2, torch.tensor([0, 1])), {}, ValueError,
                                   "d must be 1-D and same a bool tensor")],
    "embeddings.sample_triplets": [((torch.zeros(3, dtype=torch.int64), 0), {}, ValueError,
                                    "n_triplets must be a positive int"),
                                   ((torch.zeros(3), 5), {}, ValueError, "labels must be a 1-D int64 tensor")],
    "embeddings.triplet_accuracy": [((M32, torch.zeros(2, 2, dtype=torch.int64)), {}, ValueError,
                                     r"triplets must be an int64 tensor of shape \(T, 3\)")],
    # estimators
    "estimators.straight_through_threshold": [((I64,), {}, TypeError, "o must be a floating-point tensor")],
    "estimators.soft_threshold": [((F2,), {"temperature": 0}, ValueError, "temperature must be > 0")],
    # gumbel
    "gumbel.sample_gumbel": [(("x",), {}, TypeError, "shape must be a tuple of non-negative ints"),
                             (((2,),), {"dtype": torch.int64}, TypeError, "dtype must be a floating torch.dtype")],
    "gumbel.straight_through": [((I64,), {}, TypeError, "soft must be a floating-point tensor")],
    "gumbel.gumbel_softmax": [((F2,), {"tau": 0}, ValueError, "tau must be > 0"),
                              ((F2,), {"generator": 3}, TypeError, "generator must be a torch.Generator or None")],
    # heteroscedastic
    "losses.gaussian_nll": [((F2, -F2 - 1, F2), {}, ValueError, "var has negative entries"),
                            ((F2, F2 + 1, torch.zeros(3)), {}, ValueError, "mean and target must have the same shape"),
                            ((F2, F2 + 1, F2), {"reduction": "avg"}, ValueError, "reduction must be one of")],
    "losses.mdn_nll": [((M32, M32, M32 - 1, torch.zeros(3)), {}, ValueError, "sigma must be > 0"),
                       ((M32, M32, M32 + 1, F2), {}, ValueError, r"target must have shape \(N,\) = \(3,\)"),
                       ((M32, torch.zeros(3, 3), M32 + 1, torch.zeros(3)), {}, ValueError,
                        "pi_logits and mu must have the same shape"),
                       ((F2, F2, F2 + 1, F2), {}, ValueError, "pi_logits must have at least 2 dimension"),
                       ((M32, M32, M32 + 1, torch.zeros(3)), {"reduction": "avg"}, ValueError,
                        "reduction must be one of")],
    "losses.pinball_loss": [((M32, torch.zeros(3), [0.5, 1.0]), {}, ValueError, r"strictly inside \(0, 1\)"),
                            ((M32, torch.zeros(3), [0.1, 0.5, 0.9]), {}, ValueError,
                             "quantiles has 3 levels but pred has 2 columns"),
                            ((M32, F2, [0.1, 0.9]), {}, ValueError, r"target must have shape \(N,\) = \(3,\)"),
                            ((M32, torch.zeros(3), 0.5), {}, TypeError, "quantiles must be a sequence"),
                            ((M32, torch.zeros(3), ["a", 0.5]), {}, TypeError, "each quantile level must be a real number")],
    "heteroscedastic.gaussian_parameters": [((torch.zeros(3, 3),), {}, ValueError, r"o must have shape \(N, 2\)"),
                                            ((M32, "softplus"), {}, ValueError, "parameterization must be one of")],
    "heteroscedastic.mean_and_variance": [((torch.zeros(3, 3),), {}, ValueError, r"o must have shape \(N, 2\)"),
                                          ((M32,), {"floor": -1}, ValueError, "floor must be >= 0")],
    # inference
    "inference.predict": [((torch.nn.Linear(2, 1), torch.zeros(3, 2), "ranking"), {}, ValueError, "task must be one of"),
                          (("model", M32, "binary"), {}, TypeError, "model must be a torch.nn.Module, got str")],
    "inference.predict_regression": [(([1.0],), {}, TypeError, "o must be a torch.Tensor, got list")],
    "inference.predict_positive": [((F2,), {"link": "relu"}, ValueError, "link must be one of")],
    "inference.predict_binary": [((F2,), {"threshold": 1.0}, ValueError, "threshold must be a probability strictly between")],
    "inference.predict_multiclass": [((I64.view(1, 2),), {}, TypeError, "logits must be a floating-point tensor")],
    "inference.predict_multilabel": [((M32,), {"threshold": NAN}, ValueError, "threshold must be finite")],
    "inference.predict_embedding": [((I64.view(1, 2),), {}, TypeError, "o must be a floating-point tensor")],
    # numerics
    "numerics.float_boundary": [((lambda t: True, 0.0, 1.0), {}, ValueError, "predicate must fail at false_at"),
                                (("f", 0.0, 1.0), {}, TypeError, "predicate must be callable")],
    # data (added by chapter 9)
    "data.make_multilabel": [((), {"rates": (1.5,)}, ValueError, r"rates must be a non-empty sequence of numbers in \(0, 1\)")],
    "data.make_heteroscedastic_regression": [((), {"n": -5}, ValueError, "n must be a positive int")],
    "data.heteroscedastic_mean": [(([0.0],), {}, TypeError, "x must be a torch.Tensor, got list")],
    "data.heteroscedastic_std": [((I64,), {}, TypeError, "x must be a floating-point tensor")],
    "data.make_inverse_problem": [((), {"noise": -0.1}, ValueError, "noise must be >= 0"),
                                  ((), {"n": 0}, ValueError, "n must be a positive int")],
    # plotting (added by chapters)
    "plotting.plot_bars": [(({},), {}, TypeError, "values must be a non-empty dict")],
    "plotting.plot_loss_vs_logit": [(({},), {"target": 0.0}, TypeError, "losses must be a non-empty dict")],
    "plotting.plot_reliability_diagram": [(({},), {}, TypeError, "panels must be a non-empty dict")],
    "plotting.plot_mean_std_band": [((F2, F2, lambda t: t), {}, ValueError, r"x must have shape \(N, 1\)")],
    "plotting.plot_conditional_density": [((F2, F2, None), {}, ValueError, r"x must have shape \(N, 1\)"),
                                          ((M32[:, :1], M32[:, :1], None), {}, TypeError, "density must be callable")],
    "plotting.plot_quantile_curves": [((M32[:, :1], M32[:, :1], {}, [0.5]), {}, TypeError,
                                       "panels must be a non-empty dict")],
    "plotting.plot_embeddings": [((torch.zeros(3, 3), torch.zeros(3, dtype=torch.int64)), {}, ValueError,
                                  r"z must have shape \(N, 2\)")],
    "plotting.plot_distance_histograms": [(({"run": [0.1]},), {}, TypeError,
                                           r"panels\['run'\] must be a tuple \(distances, same\)")],
    # added by the chapter "Probabilities you can trust"
    "metrics.per_class_recall": [((I64, torch.tensor([0, 3])), {"num_classes": 3}, ValueError,
                                  r"target must hold class indices in 0..2"),
                                 ((I64, I64), {"num_classes": 0}, ValueError, "num_classes must be a positive int")],
    "metrics.balanced_accuracy": [((I64, torch.tensor([0, 1, 1])), {"num_classes": 3}, ValueError,
                                   "pred and target must have the same shape")],
    "transforms.adjust_logits": [((M32, torch.zeros(3)), {}, ValueError, r"log_prior must have shape \(C,\) = \(2,\)"),
                                 ((M32, torch.tensor([0.5, 0.5])), {}, ValueError, "log_prior looks like probabilities"),
                                 ((M32, torch.zeros(2)), {"tau": -1.0}, ValueError, "tau must be >= 0")],
    "losses.logit_adjusted_cross_entropy": [((M32, torch.tensor([0, 1, 2]), torch.zeros(2)), {}, ValueError, "0..1"),
                                            ((M32, torch.tensor([0, 1, 1]), torch.tensor([0.0, -math.inf])), {},
                                             ValueError, "log_prior must be finite")],
    "data.make_long_tailed": [((), {"imbalance": 0.5}, ValueError, "imbalance must be a finite number >= 1"),
                              ((), {"balanced": "yes"}, TypeError, "balanced must be a bool")],
    "calibration.ece_null_distribution": [((M32,), {"draws": 0}, ValueError, "draws must be a positive int"),
                                          ((torch.full((2, 2), 0.5),), {"generator": 1}, TypeError,
                                           "generator must be a torch.Generator or None")],
    "gumbel.GumbelSoftmax": [((), {"tau": 0.0}, ValueError, "tau must be > 0"),
                             ((), {"hard": "no"}, TypeError, "hard must be a bool")],
}

# course_pkg.experiments: the book's experiments, not the package's API (their claims tests exercise them; each
# still names the argument it refuses)
SKIP_MODULES = {"course_pkg.homework", "course_pkg._validation", "course_pkg.experiments"}


def public_functions():
    names = []
    for info in pkgutil.walk_packages(course_pkg.__path__, "course_pkg."):
        if any(info.name == m or info.name.startswith(m + ".") for m in SKIP_MODULES):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type) or isinstance(obj, type) and issubclass(obj, torch.nn.Module):
                names.append(f"{info.name.removeprefix('course_pkg.')}.{name}")
    return names


def test_every_public_function_has_a_bad_input_case():
    missing = [n for n in public_functions() if n not in BAD_INPUTS]
    assert not missing, f"public functions without a bad-input test here: {missing}"


CASES = [(name, i, case) for name, cases in BAD_INPUTS.items() for i, case in enumerate(cases)]


@pytest.mark.parametrize("name, i, case", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_bad_input_gives_clear_error(name, i, case):
    module_name, func_name = name.rsplit(".", 1)
    fn = getattr(importlib.import_module(f"course_pkg.{module_name}"), func_name)
    args, kwargs, exc, pattern = case
    with pytest.raises(exc, match=pattern) as info:
        fn(*args, **kwargs)
    # The error must be raised by our own validation, not from deep inside torch.
    raised_in = str(info.traceback[-1].path)
    assert "course_pkg" in raised_in, f"raised in {raised_in}, not by course_pkg's validation"
