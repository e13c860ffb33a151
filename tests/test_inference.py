"""Tests for course_pkg.inference: oracles are torch built-ins in float64."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_pkg.inference import (
    TASKS, Prediction, Predictor, predict, predict_binary, predict_embedding, predict_multiclass,
    predict_multilabel, predict_positive, predict_regression,
)
from course_pkg.models import MLP


def test_regression_is_identity_and_detached():
    o = torch.randn(5, 1, requires_grad=True)
    out = predict_regression(o)
    assert torch.equal(out, o.detach()) and not out.requires_grad


@pytest.mark.parametrize("link, oracle", [("softplus", F.softplus), ("exp", torch.exp)])
def test_positive_matches_torch(link, oracle):
    o = torch.linspace(-15, 15, 61, dtype=torch.float64)
    assert torch.allclose(predict_positive(o, link), oracle(o), atol=1e-8, rtol=1e-12)
    assert bool((predict_positive(torch.tensor([-5.0, 0.0, 5.0]), link) > 0).all())


def test_positive_rejects_unknown_link():
    with pytest.raises(ValueError, match="link"):
        predict_positive(torch.zeros(2), link="relu")


def test_binary_probs_and_labels():
    z = torch.tensor([-1000.0, -2.0, 0.0, 1e-30, 3.0, 1000.0])
    probs, labels = predict_binary(z)
    assert torch.allclose(probs.double(), torch.sigmoid(z.double()), atol=1e-7)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert labels.dtype == torch.int64 and not torch.isnan(probs).any()


def test_binary_threshold_is_a_probability_cut():
    z = torch.tensor([-1.0, 0.5, 1.5])  # sigmoid: 0.269, 0.622, 0.818
    assert predict_binary(z, threshold=0.7)[1].tolist() == [0, 0, 1]
    assert predict_binary(z, threshold=0.2)[1].tolist() == [1, 1, 1]


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_binary_rejects_bad_threshold(bad):
    with pytest.raises(ValueError, match="threshold"):
        predict_binary(torch.zeros(3), threshold=bad)


def test_multiclass_matches_torch_float64():
    z = torch.randn(20, 7, dtype=torch.float64) * 30
    probs, labels = predict_multiclass(z)
    assert torch.allclose(probs, torch.softmax(z, dim=-1), atol=1e-14)
    assert torch.equal(labels, z.argmax(dim=-1))
    assert torch.allclose(probs.sum(-1), torch.ones(20, dtype=torch.float64))


def test_multiclass_extremes_and_ties():
    probs, labels = predict_multiclass(torch.tensor([[1000.0, 0.0, -1000.0], [1.0, 3.0, 3.0]]))
    assert not torch.isnan(probs).any()
    assert labels.tolist() == [0, 1]  # ties go to the first maximal index


def test_multiclass_does_not_mix_samples():
    a = torch.tensor([[2.0, 0.0, -1.0]])
    alone = predict_multiclass(a)[0]
    together = predict_multiclass(torch.cat([a, torch.tensor([[9.0, 9.0, 9.0]])]))[0][:1]
    assert torch.equal(alone, together)


def test_multiclass_rejects_nan_and_integers():
    with pytest.raises(ValueError, match="NaN"):
        predict_multiclass(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="floating-point"):
        predict_multiclass(torch.tensor([[1, 2]]))


def test_multilabel_is_independent_per_label():
    probs, labels = predict_multilabel(torch.tensor([[3.0, 3.0, -3.0]]))
    assert labels.tolist() == [[1, 1, 0]]
    assert probs.sum().item() > 1.0  # no simplex constraint
    with pytest.raises(ValueError, match="dimension"):
        predict_multilabel(torch.zeros(3))


def test_embedding_unit_rows_and_zero_vector():
    e = predict_embedding(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    assert torch.allclose(e[0].norm(), torch.tensor(1.0))
    assert torch.equal(e[1], torch.zeros(2))


@pytest.mark.parametrize("task", TASKS)
def test_predict_every_task(task, device):
    out_features = {"multiclass": 4, "multilabel": 3, "embedding": 5}.get(task, 1)
    model = MLP(2, out_features, seed=1).to(device)
    x = torch.randn(6, 2)  # on the CPU: predict moves it to the model's device
    pred = predict(model, x, task)
    assert isinstance(pred, Prediction) and pred.task == task
    assert pred.raw.device.type == device.type and not pred.raw.requires_grad
    if task in ("binary", "multiclass", "multilabel"):
        assert pred.values is None and pred.probs is not None and pred.labels.dtype == torch.int64
    else:
        assert pred.probs is None and pred.labels is None and pred.values.shape == pred.raw.shape
    if task == "positive":
        assert bool((pred.values > 0).all())


def test_predict_uses_eval_mode_and_restores_it():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Dropout(p=0.9))
    model.train()
    x = torch.ones(50, 2)
    first = predict(model, x, "multiclass").raw
    second = predict(model, x, "multiclass").raw
    assert torch.equal(first, second)  # dropout off
    assert model.training  # mode restored


@pytest.mark.parametrize("call", ["predict", "Predictor"])
def test_predict_restores_each_submodules_own_mode(call):
    # A batch norm frozen in eval mode inside a model in train mode (fine-tuning with frozen statistics):
    # model.train(True) afterwards would unfreeze it; predict must give every module back its own flag.
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5),
                                torch.nn.Linear(4, 3))
    model.train()
    model[1].eval()
    before = [m.training for m in model.modules()]
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    if call == "predict":
        predict(model, x, "multiclass")
    else:
        Predictor(model, "multiclass")(x)
    assert [m.training for m in model.modules()] == before
    assert model.training and not model[1].training and model[2].training
    # and the frozen statistics really stay frozen in the next training forward pass
    running_mean = model[1].running_mean.clone()
    model(x)
    assert torch.equal(model[1].running_mean, running_mean)


def test_predict_restores_modes_after_an_error():
    class Failing(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(2, 2)

        def forward(self, x):
            raise RuntimeError("boom")

    model = Failing()
    model.train()
    model.inner.eval()
    with pytest.raises(RuntimeError, match="boom"):
        predict(model, torch.zeros(1, 2), "multiclass")
    assert model.training and not model.inner.training


def test_predict_records_no_graph():
    model = MLP(2, 1)
    pred = predict(model, torch.zeros(3, 2), "regression")
    assert pred.raw.grad_fn is None


def test_predict_bad_inputs():
    model = MLP(2, 3)
    with pytest.raises(TypeError, match="model"):
        predict(lambda t: t, torch.zeros(1, 2), "multiclass")
    with pytest.raises(ValueError, match="task"):
        predict(model, torch.zeros(1, 2), "classification")
    with pytest.raises(TypeError, match="x must be"):
        predict(model, [[0.0, 0.0]], "multiclass")
    with pytest.raises(ValueError, match="link"):
        predict(model, torch.zeros(1, 2), "positive", link="square")


def test_predictor_binds_task():
    model = MLP(2, 3, seed=2)
    clf = Predictor(model, "multiclass")
    x = torch.randn(4, 2)
    assert torch.equal(clf(x).probs, predict(model, x, "multiclass").probs)
    assert "multiclass" in repr(clf)
    with pytest.raises(ValueError, match="task"):
        Predictor(model, "ranking")
    with pytest.raises(ValueError, match="threshold"):
        Predictor(model, "binary", threshold=2.0)


def test_binary_label_equals_prob_cut_away_from_boundary():
    z = torch.linspace(-8, 8, 101, dtype=torch.float64)
    for t in (0.1, 0.5, 0.9):
        probs, labels = predict_binary(z, threshold=t)
        far = (probs - t).abs() > 1e-9
        assert torch.equal(labels[far], (probs[far] > t).long())
    assert math.isclose(predict_binary(torch.tensor([0.0]))[0].item(), 0.5)
