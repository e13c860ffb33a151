import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import special

from course_pkg import transforms as T

F64 = torch.float64


def grad_of(fn, o):
    o = o.detach().clone().requires_grad_(True)
    fn(o).sum().backward()
    return o.grad


# ---------------------------------------------------------------- oracles in float64

def test_oracles_float64():
    o = torch.linspace(-40, 40, 1001, dtype=F64)
    assert torch.allclose(T.sigmoid(o), torch.from_numpy(special.expit(o.numpy())), rtol=0, atol=1e-15)
    assert torch.allclose(T.softplus(o), torch.from_numpy(np.logaddexp(0, o.numpy())), rtol=1e-15, atol=1e-300)
    assert torch.allclose(T.tanh(o), torch.tanh(o), atol=1e-15)
    assert torch.equal(T.relu(o), F.relu(o))
    rows = o.reshape(7, 143)
    assert torch.allclose(T.softmax(rows), torch.from_numpy(special.softmax(rows.numpy(), axis=-1)), atol=1e-15)
    assert torch.allclose(T.log_softmax(rows), torch.from_numpy(special.log_softmax(rows.numpy(), axis=-1)), atol=1e-12)
    assert torch.allclose(T.logsumexp(rows), torch.logsumexp(rows, -1), atol=1e-12)
    assert torch.allclose(T.l2_normalize(rows), F.normalize(rows, dim=-1), atol=1e-15)


def test_oracles_float32_against_float64_reference():
    o = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 10
    ref = o.double()
    assert torch.allclose(T.sigmoid(o).double(), torch.sigmoid(ref), atol=1e-6)
    assert torch.allclose(T.softmax(o).double(), torch.softmax(ref, -1), atol=1e-6)
    assert torch.allclose(T.log_softmax(o).double(), torch.log_softmax(ref, -1), atol=1e-5)
    assert torch.allclose(T.softplus(o).double(), F.softplus(ref, threshold=1e9), atol=1e-5)


# ---------------------------------------------------------------- softplus

@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softplus_exact_at_extremes(dtype):
    o = torch.tensor([-1000.0, 1000.0], dtype=dtype)
    assert T.softplus(o).tolist() == [0.0, 1000.0]


def test_softplus_no_premature_zero_in_float64():
    v = T.softplus(torch.tensor(-30.0, dtype=F64)).item()
    assert v == pytest.approx(np.logaddexp(0, -30.0), rel=1e-15) and v > 0


def test_softplus_has_no_threshold_switch():
    # F.softplus switches to the identity above 20 and is off by ~2e-9 there.
    o = torch.tensor([20.5], dtype=F64)
    assert T.softplus(o).item() == pytest.approx(np.logaddexp(0, 20.5), rel=1e-16)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softplus_gradient_is_sigmoid_everywhere(dtype):
    o = torch.tensor([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0], dtype=dtype)
    g = grad_of(T.softplus, o)
    assert torch.isfinite(g).all()
    assert torch.allclose(g, torch.sigmoid(o), atol=0, rtol=1e-6)
    assert grad_of(T.softplus, torch.tensor([0.0], dtype=dtype)).item() == 0.5


def test_softplus_beta():
    o = torch.linspace(-10, 10, 41, dtype=F64)
    assert torch.allclose(T.softplus(o, beta=2.5), F.softplus(o, beta=2.5, threshold=1e9), atol=1e-15)
    assert torch.allclose(grad_of(lambda t: T.softplus(t, beta=2.5), o), torch.sigmoid(2.5 * o), atol=1e-15)


def test_softplus_reaches_zero_exactly_where_exp_does():
    # e^o rounds to 0 below half the smallest subnormal (2^-150 in float32, 2^-1075 in float64); softplus with it.
    assert T.softplus(torch.tensor(-103.9)).item() == 2.0 ** -149
    assert T.softplus(torch.tensor(-104.0)).item() == 0.0
    assert T.softplus(torch.tensor(-745.1, dtype=F64)).item() == 2.0 ** -1074
    assert T.softplus(torch.tensor(-745.2, dtype=F64)).item() == 0.0
    o = torch.linspace(-103.9, -87.4, 500)            # the float32 subnormal range of e^o
    assert torch.equal(T.softplus(o), torch.exp(o))


_NATIVE_KERNELS = """
import torch
from course_pkg import transforms as T
for dtype, lo, hi in ((torch.float32, -103.97, -87.4), (torch.float64, -745.13, -708.4)):
    o = torch.linspace(lo, hi, 4096, dtype=dtype)     # long enough for the vectorized loop
    assert torch.equal(T.softplus(o), torch.exp(o)), dtype
print(torch.backends.cpu.get_cpu_capability())
"""


def test_softplus_subnormal_values_do_not_depend_on_the_cpu_kernel():
    # The Makefile pins ATen's portable kernels; the machine's own (AVX2/AVX-512) kernels have a vectorized log1p
    # that returns 0 for the smallest subnormal inputs. Run with them, in a child process, and demand e^o exactly.
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    done = subprocess.run([sys.executable, "-c", _NATIVE_KERNELS], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_softplus_double_backward():
    o = torch.tensor([0.3], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(T.softplus, (o,))
    assert torch.autograd.gradgradcheck(T.softplus, (o,))


# ---------------------------------------------------------------- sigmoid

@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, F64])
def test_sigmoid_stable_at_extremes(dtype):
    o = torch.tensor([-1000.0, 1000.0], dtype=dtype)
    s = T.sigmoid(o)
    assert s.tolist() == [0.0, 1.0] and s.dtype == dtype
    assert torch.isfinite(grad_of(T.sigmoid, o)).all()


def test_sigmoid_gradient_and_symmetry():
    o = torch.linspace(-20, 20, 81, dtype=F64)
    s = T.sigmoid(o)
    assert torch.allclose(grad_of(T.sigmoid, o), s * (1 - s), atol=1e-16)
    assert torch.allclose(T.sigmoid(-o), 1 - s, atol=1e-15)
    assert torch.autograd.gradgradcheck(T.sigmoid, (o[:5].clone().requires_grad_(True),))


def test_sigmoid_rounds_to_one_in_float32():
    assert T.sigmoid(torch.tensor(16.7)).item() == 1.0
    assert T.sigmoid(torch.tensor(16.5)).item() < 1.0


# ---------------------------------------------------------------- relu, threshold, scale_to_range

def test_relu_gradient_one_sided_and_nan_propagates():
    assert grad_of(T.relu, torch.tensor([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 1.0]
    assert torch.isnan(T.relu(torch.tensor([float("nan")]))).all()
    assert T.relu(torch.tensor([float("-inf")])).item() == 0.0


def test_threshold_is_hard_and_leaves_graph():
    o = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    out = T.threshold(o)
    assert out.tolist() == [0.0, 0.0, 1.0] and out.dtype == o.dtype
    assert not out.requires_grad
    assert T.threshold(o.detach(), at=-1.0).tolist() == [1.0, 1.0, 1.0]


def test_scale_to_range_values_gradients_and_errors():
    assert T.scale_to_range(torch.tensor(0.0), 10, 100).item() == 55.0
    g0 = grad_of(lambda t: T.scale_to_range(t, 10, 100), torch.tensor([0.0, 5.0]))
    assert g0[0].item() == pytest.approx(22.5)
    assert g0[1].item() == pytest.approx(0.598, abs=1e-3)
    for low, high in [(1, 1), (2, 1)]:
        with pytest.raises(ValueError, match="low < high"):
            T.scale_to_range(torch.zeros(1), low, high)


# ---------------------------------------------------------------- softmax family

@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softmax_family_stable_at_gap_1000(dtype):
    o = torch.tensor([[0.0, 1000.0], [1000.0, 1000.0]], dtype=dtype)
    assert T.softmax(o).tolist() == [[0.0, 1.0], [0.5, 0.5]]
    assert T.log_softmax(o)[0].tolist() == [-1000.0, 0.0]
    assert T.logsumexp(o)[1].item() == pytest.approx(1000 + np.log(2))
    for fn in (T.softmax, T.log_softmax):
        assert torch.isfinite(grad_of(lambda t: fn(t)[:, 0], o)).all()


def test_naive_versions_fail_as_documented():
    assert torch.isnan(T.naive_softmax(torch.tensor([1000.0, 0.0]))[0])
    assert T.naive_log_softmax(torch.tensor([0.0, 104.0]))[0].item() == float("-inf")
    assert torch.isnan(T.naive_l2_normalize(torch.zeros(1, 3))).all()


def test_softmax_dim_argument():
    o = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(T.softmax(o, dim=0).sum(0), torch.ones(4))
    assert torch.allclose(T.softmax(o, dim=1), F.softmax(o, dim=1))


# ---------------------------------------------------------------- argmax, one_hot_max

def test_argmax_first_index_on_ties():
    o = torch.tensor([[1.0, 3, 3, 0], [2, 2, 2, 2], [0, 5, 1, 5]])
    out = T.argmax(o)
    assert out.tolist() == [1, 0, 1] and out.dtype == torch.int64
    assert torch.equal(out, torch.argmax(o, dim=-1))
    assert T.argmax(o, dim=0).tolist() == [1, 2, 0, 2]


def test_one_hot_max_marks_every_tie():
    out = T.one_hot_max(torch.tensor([[1.0, 3, 3, 0], [0, 1, 2, 3]]))
    assert out.tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]
    assert out.dtype == torch.float32


def test_argmax_and_one_hot_max_refuse_nan():
    for fn in (T.argmax, T.one_hot_max):
        with pytest.raises(ValueError, match="NaN"):
            fn(torch.tensor([0.0, float("nan")]))


# ---------------------------------------------------------------- l2_normalize

@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, F64])
def test_l2_normalize_zero_vector_never_nan(dtype):
    x = torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], dtype=dtype)
    y = T.l2_normalize(x)
    assert y[0].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(y[1].double(), torch.tensor([0.6, 0.8, 0.0], dtype=F64), atol=1e-3)
    assert torch.isfinite(grad_of(T.l2_normalize, x)).all()


def test_l2_normalize_unit_sphere_identity():
    a, b = T.l2_normalize(torch.randn(2, 5, 16, dtype=F64, generator=torch.Generator().manual_seed(0)))
    cos = (a * b).sum(-1)
    assert torch.allclose(((a - b) ** 2).sum(-1), 2 - 2 * cos, atol=1e-12)


# ---------------------------------------------------------------- contract: shape, dtype, device, errors

SHAPE_KEEPING = [T.identity, T.relu, T.softplus, T.sigmoid, T.tanh, T.threshold, T.softmax, T.log_softmax,
                 T.one_hot_max, T.l2_normalize, lambda o: T.scale_to_range(o, -1, 1)]


@pytest.mark.parametrize("fn", SHAPE_KEEPING)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_shape_dtype_device_kept(fn, dtype, device):
    o = torch.randn(4, 3, 5, dtype=dtype, device=device)
    out = fn(o)
    assert out.shape == o.shape and out.dtype == dtype and out.device == o.device


@pytest.mark.parametrize("fn", [T.relu, T.softplus, T.sigmoid, T.tanh, T.threshold, T.softmax, T.log_softmax,
                                T.argmax, T.one_hot_max, T.l2_normalize, T.logsumexp])
def test_bad_input_type_errors(fn):
    with pytest.raises(TypeError, match="torch.Tensor, got list"):
        fn([1.0, 2.0])
    with pytest.raises(TypeError, match="floating-point tensor.*int64"):
        fn(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="floating-point tensor.*bool"):
        fn(torch.tensor([True, False]))


def test_bad_dim_and_parameters():
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        T.softmax(torch.zeros(2, 2), dim=2)
    with pytest.raises(TypeError, match="dim must be an int"):
        T.softmax(torch.zeros(2, 2), dim=1.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
        T.softplus(torch.zeros(2), beta=0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        T.l2_normalize(torch.zeros(1, 2), eps=-1)
