"""Matrix products: batched, broadcasting ``matmul``."""
from __future__ import annotations

from ..autodiff import Function
from ..backend import get_xp
from ._util import OpError, sum_to, tensors


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
