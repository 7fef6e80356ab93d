"""fastml.reference.autograd: gradients vs finite differences and vs fastml.nn backward."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastml import nn
from fastml.reference.autograd import Value, as_values, grads, linear


def expression(a, b, c):
    """Uses every operation: + - * / ** exp log tanh relu, and reuses nodes."""
    d = a * b + c ** 2
    e = (d / (1 + a ** 2)).tanh() * d.exp().log()
    return e - (b * c).relu() + (a - c).relu() * 3 + e * a


def finite_difference(f, x, h=1e-6):
    out = []
    for i in range(len(x)):
        up = list(x)
        down = list(x)
        up[i] += h
        down[i] -= h
        out.append((f(*up) - f(*down)) / (2 * h))
    return out


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_gradients_match_finite_differences(point):
    a, b, c = point
    if abs(b * c) < 1e-3 or abs(a - c) < 1e-3:  # away from the relu kinks
        return
    values = [Value(v) for v in point]
    out = expression(*values)
    out.backward()
    expected = finite_difference(lambda *x: expression(*map(Value, x)).data, point)
    np.testing.assert_allclose([v.grad for v in values], expected, rtol=1e-6, atol=1e-6)


def test_elementary_derivatives():
    x = Value(0.7)
    for fn, derivative in [(lambda v: v.exp(), math.exp(0.7)), (lambda v: v.log(), 1 / 0.7),
                           (lambda v: v.tanh(), 1 - math.tanh(0.7) ** 2),
                           (lambda v: v ** 3, 3 * 0.7 ** 2), (lambda v: v.relu(), 1.0),
                           (lambda v: 2 / v, -2 / 0.7 ** 2), (lambda v: 1 - v, -1.0)]:
        x.grad = 0.0
        fn(x).backward()
        assert x.grad == pytest.approx(derivative, rel=1e-12)
    y = Value(-1.0)
    y.relu().backward()
    assert y.grad == 0.0
    with pytest.raises(TypeError, match="constant"):
        Value(2.0) ** Value(3.0)


def test_shared_subexpression_accumulates():
    x = Value(3.0)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == pytest.approx(2 * 3.0 + 1)


def test_deep_graph_has_no_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 5000, rel=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_gradients_match_fastml_nn_backward(activation):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 5, dtype=np.float64, random_state=1),
                          nn.Tanh() if activation == "tanh" else nn.ReLU(),
                          nn.Linear(5, 2, dtype=np.float64, random_state=2))
    X = rng.standard_normal((4, 3))
    Y = rng.standard_normal((4, 2))
    loss = nn.MSELoss()
    value = loss.forward(model.forward(X), Y)
    model.zero_grad()
    model.backward(loss.backward())
    first, second = model[0], model[2]

    W1, b1 = as_values(first.weight.data), as_values(first.bias.data)
    W2, b2 = as_values(second.weight.data), as_values(second.bias.data)
    total = Value(0.0)
    for x, y in zip(X, Y):
        hidden = [getattr(h, activation)() for h in linear(as_values(x), W1, b1)]
        out = linear(hidden, W2, b2)
        total = total + sum(((o - t) ** 2 for o, t in zip(out, y.tolist())), Value(0.0))
    mse = total / Y.size
    mse.backward()
    assert mse.data == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(grads(W1), first.weight.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads(b1), first.bias.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads(W2), second.weight.grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads(b2), second.bias.grad, rtol=1e-10, atol=1e-12)
