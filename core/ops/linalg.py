"""Matrix products: batched, broadcasting ``matmul``."""
from __future__ import annotations

from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, sum_to, tensors
from .activations import add_bias_, colsum, mask_grad, relu_into


class MatMul2D(Function):
    """(..., k) @ (k, n) as one 2-D GEMM over the flattened leading axes (Dense on sequences):
    NumPy would otherwise loop over the batch, and the kernel gradient would need a reduction."""

    def forward(self, a, b):
        self.xp = get_xp(a, b)
        self.lead = a.shape[:-1]
        a2 = a.reshape(-1, a.shape[-1])
        self.a2 = a2 if self.needs_input_grad[1] else None
        self.b = b if self.needs_input_grad[0] else None
        return (a2 @ b).reshape(self.lead + (b.shape[1],))

    def backward(self, gy):
        g2 = gy.reshape(-1, gy.shape[-1])
        ga = (g2 @ self.b.T).reshape(self.lead + (self.b.shape[0],)) if self.b is not None else None
        gb = self.a2.T @ g2 if self.a2 is not None else None
        return ga, gb


class MatMul(Function):
    def forward(self, a, b):
        self.xp = get_xp(a, b)
        self.a = a if self.needs_input_grad[1] else None
        self.b = b if self.needs_input_grad[0] else None
        self.shapes = (a.shape, b.shape)
        return a @ b

    def backward(self, gy):
        xp = self.xp
        sa, sb = self.shapes
        ga = gb = None
        if self.b is not None:
            b = self.b
            if b.ndim == 1:
                ga = gy[..., None] * b
            else:
                ga = (gy[..., None, :] if len(sa) == 1 else gy) @ xp.swapaxes(b, -1, -2)
                if len(sa) == 1:
                    ga = ga[..., 0, :]
            ga = sum_to(xp, ga, sa)
        if self.a is not None:
            a = self.a
            if a.ndim == 1:
                g2 = gy[..., None, :] if len(sb) > 1 else gy
                gb = a[:, None] * g2 if len(sb) > 1 else a * gy[..., None]
            else:
                g2 = gy[..., :, None] if len(sb) == 1 else gy
                gb = xp.swapaxes(a, -1, -2) @ g2
                if len(sb) == 1:
                    gb = gb[..., 0]
            gb = sum_to(xp, gb, sb)
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy semantics: 1-d operands, batch axes broadcast."""
    a, b = tensors("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise OpError(f"matmul: operands must be at least 1-d, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise OpError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({ka} != {kb})")
    if b.ndim == 2 and a.ndim > 2:
        return MatMul2D().apply(a, b)
    return MatMul().apply(a, b)


# ----------------------------------------------------------------------------- fused Dense
class Dense(Function):
    """``activation(x @ kernel + bias)`` as ONE graph node (the Dense layer's whole forward).

    The product runs as one 2-D GEMM over the flattened leading axes; the bias is added and
    ReLU applied in place on the fresh product (no temporaries); other activations reuse the
    activation op's own forward/backward on that buffer. Values are those of
    ``act(matmul(x, kernel) + bias)`` computed op by op."""

    def __init__(self, act=None, relu=False):
        self.act = act  # an activation Function instance used as a plain object, or None
        self.relu = relu

    def forward(self, x, w, b=None):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        y = x2 @ w
        xp = get_xp(y)
        if b is not None:
            add_bias_(xp, y, b)
        need = self.needs_input_grad
        record = True in need
        if self.relu:
            relu_into(xp, y, y)
            self.mask = (y > 0) if record else None
        elif self.act is not None:
            act = self.act
            act.xp = xp
            act.needs_input_grad = (record,)
            y = act.compute(y)
            if not record:
                self.act = None
        self.lead = lead
        self.x2 = x2 if need[1] else None
        self.w = w if need[0] else None
        self.has_b = b is not None
        return y.reshape(lead + (w.shape[1],))

    def backward(self, gy):
        g = gy.reshape(-1, gy.shape[-1])
        if self.relu:
            g = mask_grad(get_xp(g), g, self.mask)
        elif self.act is not None:
            g = self.act.backward(g)
        need = self.needs_input_grad
        gx = (g @ self.w.T).reshape(self.lead + (self.w.shape[0],)) if need[0] else None
        gw = self.x2.T @ g if need[1] else None
        if self.has_b:
            return gx, gw, (colsum(get_xp(g), g) if need[2] else None)
        return gx, gw


_FUSABLE = None


def _fusable_activations():
    global _FUSABLE
    if _FUSABLE is None:
        from . import activations as A

        _FUSABLE = {A.sigmoid: (A.Sigmoid, ()), A.tanh: (A.Tanh, ()), A.softmax: (A.Softmax, (-1,)),
                    A.silu: (A.SiLU, ()), A.relu6: (A.ReLU6, ())}
    return _FUSABLE


def dense(x, kernel, bias=None, activation=None):
    """``activation(x @ kernel + bias)`` over the last axis of ``x`` as one differentiable op.

    ``kernel`` (k, n), ``bias`` (n,) or None. ``activation``: None, or one of the functions
    ``core.ops.relu``, ``sigmoid``, ``tanh``, ``softmax`` (last axis), ``silu``, ``relu6``,
    ``linear`` (fused into the node); any other callable is applied after, as its own op."""
    from . import activations as A

    if not (isinstance(x, Tensor) and isinstance(kernel, Tensor) and x.data.dtype == kernel.data.dtype
            and x.data.dtype.kind == "f" and (bias is None or (isinstance(bias, Tensor)
                                                                and bias.data.dtype == x.data.dtype))):
        x, kernel = tensors("matmul", x, kernel)  # conversions and dtype checks
        if bias is not None:
            bias = tensors("add", x, bias)[1]
    if activation is None:
        activation = A.linear
    activation = getattr(activation, "eager", activation)  # keras.ops.relu is the symbolic-aware form of A.relu
    if x.ndim == 0 or kernel.ndim != 2 or (bias is not None and tuple(bias.shape) != (kernel.shape[1],)):
        out = matmul(x, kernel)  # the general path (its own checks and broadcasting)
        return activation(out + bias if bias is not None else out)
    if x.shape[-1] != kernel.shape[0]:
        raise OpError(f"matmul: inner dimensions differ: {x.shape} @ {kernel.shape} "
                      f"({x.shape[-1]} != {kernel.shape[0]})")
    post = None
    if activation is A.linear:
        fn = Dense()
    elif activation is A.relu:
        fn = Dense(relu=True)
    else:
        spec = _fusable_activations().get(activation)
        if spec is not None:
            fn = Dense(act=spec[0](*spec[1]))
        else:
            fn, post = Dense(), activation
    y = fn.apply(x, kernel, bias) if bias is not None else fn.apply(x, kernel)
    return post(y) if post is not None else y
