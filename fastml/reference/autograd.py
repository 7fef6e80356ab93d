"""A scalar reverse-mode automatic differentiation engine (micrograd style).

Every :class:`Value` remembers the values it was computed from and the local derivative
of the operation. ``backward()`` orders the graph topologically (children before
parents) and applies the chain rule from the output back: for y = f(a, b),
a.grad += (d y / d a) * y.grad. This is backpropagation seen as a computational graph;
the tests use it as a gradient oracle for the explicit backward passes of ``fastml.nn``.

>>> x, w, b = Value(2.0), Value(-3.0), Value(1.0)
>>> y = (x * w + b).tanh()
>>> y.backward()
>>> round(x.grad, 6) == round((1 - y.data ** 2) * w.data, 6)
True
"""

import math


class Value:
    """A scalar in a computational graph: ``data``, ``grad`` (d output / d self)."""

    __slots__ = ("data", "grad", "_backward", "_parents", "op")

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._parents = parents
        self.op = op

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError("only constant (int or float) exponents are supported")
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def backward():
            self.grad += out.data * out.grad
        out._backward = backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def backward():
            self.grad += out.grad / self.data
        out._backward = backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def backward():
            self.grad += (1.0 - out.data ** 2) * out.grad
        out._backward = backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = backward
        return out

    def backward(self):
        """d self / d v for every v in the graph, accumulated into v.grad."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first post-order (deep graphs, no recursion limit)
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if id(p) not in seen)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-self._lift(other))

    def __rsub__(self, other):
        return self._lift(other) + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * self._lift(other) ** -1

    def __rtruediv__(self, other):
        return self._lift(other) * self ** -1


def linear(x, weight, bias):
    """y_o = sum_i W_oi x_i + b_o on lists of Values (W as a list of rows)."""
    return [sum((w * xi for w, xi in zip(row, x)), b) for row, b in zip(weight, bias)]


def as_values(array):
    """Nested lists of Values from an array-like (any shape)."""
    if hasattr(array, "tolist"):
        array = array.tolist()
    if isinstance(array, list):
        return [as_values(a) for a in array]
    return Value(array)


def grads(values):
    """Nested lists of the .grad of nested Values."""
    if isinstance(values, list):
        return [grads(v) for v in values]
    return values.grad
