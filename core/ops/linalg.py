"""Matrix products: batched, broadcasting ``matmul``."""
from __future__ import annotations

from ..autodiff import Function
from ..backend import get_xp
from ._util import OpError, sum_to, tensors


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
    return MatMul().apply(a, b)
