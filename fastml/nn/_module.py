"""Parameter, Module and the containers Sequential and Residual.

A module computes ``forward(x)`` and keeps what its backward pass needs; then
``backward(grad_out)`` returns d loss / d x and *adds* d loss / d theta to each
parameter's ``grad`` (call ``zero_grad()`` between steps). There is no tape: a
container's backward calls its children's backward in reverse order, which is the
chain rule written out.
"""

import numbers
from collections import OrderedDict

import numpy as np

from fastml._validation import (
    check_array,
    check_dtype,
    check_float_dtype,
    check_instance,
    check_shape,
)

__all__ = ["Module", "Parameter", "Residual", "Sequential"]


class Parameter:
    """A trainable array ``data`` with its gradient ``grad`` (same shape and dtype).

    ``data`` is always C-contiguous; modules and optimizers update it in place, so
    views of it stay valid.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data, dtype=None):
        arr = np.asarray(data.data if isinstance(data, Parameter) else data)
        if dtype is None:
            dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float32
        self.data = np.array(arr, dtype=dtype, order="C", copy=True)
        self.grad = np.zeros_like(self.data)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def zero_grad(self):
        """Set ``grad`` to zero in place."""
        self.grad[...] = 0

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def _to_numpy(value):
    """A NumPy array from an array-like or a torch tensor (detached, on the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class Module:
    """Base class of every layer: registers parameters, buffers and sub-modules.

    Subclasses implement ``forward(x)`` and ``backward(grad_out)``. Attributes that are
    a :class:`Parameter` or a :class:`Module` are registered automatically (in the
    order they are set, which fixes the ``state_dict`` order, as in PyTorch);
    non-trainable state (running statistics) is registered with :meth:`register_buffer`.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 "super().__init__() before setting attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, value):
        """Register a non-trainable array (saved in ``state_dict``, moved by ``to``)."""
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------ computation
    def forward(self, x):
        """Compute the output and keep what ``backward`` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):
        """Return d loss / d input given d loss / d output; add to the parameters' grads."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _saved(self, name="_cache"):
        """What the last forward stored; a clear error when forward has not run."""
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module ("") and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every descendant."""
        return [m for _, m in self.named_modules()]

    def children(self):
        """The direct sub-modules."""
        return list(self._modules.values())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) pairs, PyTorch's names (``0.weight``, ``fc.bias``)."""
        for mod_prefix, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self):
        """The list of trainable parameters (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """(dotted name, array) of every non-trainable state array (running statistics)."""
        for mod_prefix, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def grads(self):
        """{name: gradient array} for every parameter."""
        return OrderedDict((name, p.grad) for name, p in self.named_parameters())

    def zero_grad(self):
        """Set every parameter's gradient to zero (in place)."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Training mode (batch statistics, dropout on) or, with ``mode=False``, eval."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: running statistics, no dropout."""
        return self.train(False)

    # ------------------------------------------------------------ dtype
    @property
    def dtype(self):
        """The parameters' dtype (None for a module without parameters)."""
        for p in self.parameters():
            return p.dtype
        return None

    def to(self, dtype):
        """Cast parameters (and their grads) and float buffers to ``dtype`` in place."""
        dtype = check_float_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = p.grad.astype(dtype)
        for m in self.modules():
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    setattr(m, name, b.astype(dtype))
        return self

    def double(self):
        """Cast to float64 (see :meth:`to`)."""
        return self.to(np.float64)

    def float(self):
        """Cast to float32 (see :meth:`to`)."""
        return self.to(np.float32)

    def _check_input(self, x, name="x"):
        """``x`` as a C-contiguous float array of the parameters' dtype.

        Modules with parameters require the input's dtype to match them (as PyTorch);
        parameter-free modules accept float32/float64 and upcast integers.
        """
        dtype = self.dtype
        arr = check_array(x, name, dtype=None if dtype is not None else "float",
                          finite=False)
        if dtype is not None:
            check_dtype(arr, name, dtype, f"{type(self).__name__}'s parameters are",
                        f"; cast the input with x.astype(np.{dtype}) or the module with "
                        f".to(np.{arr.dtype})")
        return arr

    def _check_grad(self, grad_out, shape, dtype):
        g = check_array(grad_out, "grad_out", dtype=None, finite=False)
        check_shape(g, "grad_out", tuple(shape),
                    label=f"{type(self).__name__}'s forward output's shape")
        return check_dtype(g, "grad_out", dtype, f"the output of {type(self).__name__} is")

    # ------------------------------------------------------------ state
    def state_dict(self):
        """Copies of every parameter and buffer, keyed by PyTorch's names and layouts."""
        out = OrderedDict()
        for mod_prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                out[f"{mod_prefix}.{name}" if mod_prefix else name] = p.data.copy()
            for name, b in module._buffers.items():
                if b is not None:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = np.array(b)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (NumPy arrays or torch tensors) into the parameters and buffers.

        Shapes must match. ``strict``: the keys must be exactly those of
        :meth:`state_dict` (missing and unexpected keys are listed in the error).
        Values are cast to each parameter's dtype and written in place.
        """
        own = OrderedDict()
        for mod_prefix, module in self.named_modules():
            for name in list(module._parameters) + [k for k, v in module._buffers.items()
                                                    if v is not None]:
                own[f"{mod_prefix}.{name}" if mod_prefix else name] = (module, name)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict does not match {type(self).__name__}: "
                           f"missing keys {missing}, unexpected keys {unexpected}")
        for key, (module, name) in own.items():
            if key not in state_dict:
                continue
            value = _to_numpy(state_dict[key])
            if name in module._parameters:
                target = module._parameters[name].data
            else:
                target = module._buffers[name]
            if value.shape != target.shape:
                raise ValueError(f"state_dict[{key!r}] has shape {value.shape}, "
                                 f"expected {target.shape}")
            np.copyto(target, value, casting="unsafe")
        return self

    # ------------------------------------------------------------ display
    def extra_repr(self):
        """Hyper-parameters shown by ``repr``."""
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse (the chain rule).

    Children are named "0", "1", ... (or by the keys of an OrderedDict), as in PyTorch.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            check_instance(m, f"the arguments of Sequential (position {name})", Module,
                           "Modules")
            setattr(self, name, m)

    def append(self, module):
        """Add ``module`` at the end (named by its position)."""
        check_instance(module, "module", Module)
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        check_instance(index, "index", numbers.Integral, "an int")
        return list(self._modules.values())[index]

    def forward(self, x):
        for m in self._modules.values():
            x = m.forward(x)
        return x

    def backward(self, grad_out):
        for m in reversed(self._modules.values()):
            grad_out = m.backward(grad_out)
        return grad_out


class Residual(Module):
    """y = block(x) + projection(x), the identity skip when ``projection`` is None.

    backward: d/dx = block.backward(g) + projection.backward(g) (or + g): the two
    paths' gradients add up where they meet.
    """

    def __init__(self, block, projection=None):
        super().__init__()
        check_instance(block, "block", Module)
        check_instance(projection, "projection", (Module, type(None)), "a Module or None")
        self.block = block
        if projection is not None:
            self.projection = projection
        object.__setattr__(self, "_proj", projection)

    def forward(self, x):
        y = self.block.forward(x)
        skip = self._proj.forward(x) if self._proj is not None else np.asarray(x)
        if y.shape != skip.shape:
            raise ValueError(f"Residual: block output {y.shape} and skip {skip.shape} "
                             f"differ; pass a projection that maps x to the block's shape")
        return y + skip

    def backward(self, grad_out):
        grad_in = self.block.backward(grad_out)
        if self._proj is not None:
            return grad_in + self._proj.backward(grad_out)
        return grad_in + grad_out
