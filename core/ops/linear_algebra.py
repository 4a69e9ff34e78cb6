"""``keras.ops.linalg``: inverses, determinants, solves and decompositions of (batches of)
matrices, with hand-written backwards for ``inv``, ``det``, ``slogdet``, ``solve``,
``solve_triangular``, ``cholesky`` and ``eigh``, and ``norm`` built on differentiable ops."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor
from ..backend import get_xp
from ._util import OpError, normalize_axis
from .elementwise import abs as _abs, mul, pow, sqrt
from .math import floats, to_float
from .creation import eye
from .linalg import matmul
from .reductions import max as _max, min as _min, sum as _sum
from .shape import broadcast_to


def _mT(a):
    return a.swapaxes(-1, -2)


def _square(op, x):
    x = to_float(op, x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise OpError(f"{op}: expected (..., N, N) square matrices, got shape {x.shape}")
    return x


class Inv(Function):
    def forward(self, a):
        self.y = get_xp(a).linalg.inv(a)
        return self.y

    def backward(self, gy):
        yt = _mT(self.y)
        return -(yt @ gy @ yt)


def inv(x):
    """The inverse of (a batch of) square matrices; differentiable."""
    return Inv().apply(_square("inv", x))


class Det(Function):
    def forward(self, a):
        xp = get_xp(a)
        self.a = a
        self.d = xp.linalg.det(a)
        return self.d

    def backward(self, gy):
        xp = get_xp(gy)
        return (gy * self.d)[..., None, None] * _mT(xp.linalg.inv(self.a))


def det(x):
    """The determinant of (a batch of) square matrices; differentiable (where invertible)."""
    return Det().apply(_square("det", x))


class Slogdet(Function):
    def forward(self, a):
        xp = get_xp(a)
        self.a = a
        sign, logabs = xp.linalg.slogdet(a)
        return sign.astype(a.dtype), logabs.astype(a.dtype)

    def backward(self, gsign, glog):
        return glog[..., None, None] * _mT(get_xp(glog).linalg.inv(self.a))


def slogdet(x):
    """(sign, log|det|) of square matrices; differentiable in log|det|."""
    return Slogdet().apply(_square("slogdet", x))


def logdet(x):
    """log det of (batches of) Hermitian positive-definite matrices (Keras ``ops.logdet``)."""
    return slogdet(x)[1]


class Solve(Function):
    def __init__(self, vector):
        self.vector = vector

    def forward(self, a, b):
        xp = get_xp(a, b)
        self.a = a
        bb = b[..., None] if self.vector else b
        x = xp.linalg.solve(a, bb)
        self.x = x
        return x[..., 0] if self.vector else x

    def backward(self, gx):
        xp = get_xp(gx)
        g = gx[..., None] if self.vector else gx
        gb = xp.linalg.solve(_mT(self.a), g)
        ga = -gb @ _mT(self.x)
        ga = ga.reshape(ga.shape) if ga.ndim == self.a.ndim else ga.sum(axis=tuple(range(ga.ndim - self.a.ndim)))
        return ga, (gb[..., 0] if self.vector else gb)


def solve(a, b):
    """x with a @ x = b for square ``a`` (..., N, N) and ``b`` (..., N) or (..., N, K); differentiable."""
    a, b = floats("solve", a, b)
    _square("solve", a)
    vector = b.ndim == a.ndim - 1
    if b.shape[-1 if vector else -2] != a.shape[-1]:
        raise OpError(f"solve: a {a.shape} and b {b.shape} do not match")
    return Solve(vector).apply(a, b)


def solve_triangular(a, b, lower=False):
    """x with a @ x = b using only the lower (or upper) triangle of ``a``; differentiable."""
    from .arrays import tril, triu

    a, b = floats("solve_triangular", a, b)
    return solve(tril(a) if lower else triu(a), b)


class Cholesky(Function):
    def forward(self, a):
        xp = get_xp(a)
        try:
            self.L = xp.linalg.cholesky(a)
        except np.linalg.LinAlgError as e:
            raise OpError(f"cholesky: the matrix is not positive definite ({e})") from None
        return self.L

    def backward(self, gL):
        # Murray (2016): A_bar = 1/2 L^-T (Phi(L^T L_bar) + Phi(L^T L_bar)^T) L^-1, Phi = tril, diagonal halved
        xp = get_xp(gL)
        L = self.L
        P = _mT(L) @ gL
        P = xp.tril(P)
        n = P.shape[-1]
        P[..., xp.arange(n), xp.arange(n)] *= 0.5
        Linv = xp.linalg.inv(L)
        S = _mT(Linv) @ P @ Linv
        return 0.5 * (S + _mT(S))


def cholesky(x, upper=False):
    """The Cholesky factor L (A = L L^T) of symmetric positive-definite matrices (U = L^T with
    ``upper``); differentiable (the gradient is symmetric)."""
    from .shape import swapaxes

    L = Cholesky().apply(_square("cholesky", x))
    return swapaxes(L, -1, -2) if upper else L


def cholesky_inverse(x, upper=False):
    """The inverse of A from its Cholesky factor (L, or U with ``upper``); differentiable."""
    from .linalg import matmul
    from .shape import swapaxes

    f = _square("cholesky_inverse", x)
    ft = swapaxes(f, -1, -2)
    return inv(matmul(ft, f) if upper else matmul(f, ft))


class Eigh(Function):
    def forward(self, a):
        xp = get_xp(a)
        w, v = xp.linalg.eigh(a)
        self.w, self.v = w, v
        return w, v

    def backward(self, gw, gv):
        xp = get_xp(gw)
        w, v = self.w, self.v
        inner = xp.zeros(v.shape, v.dtype) if gv is None else _mT(v) @ gv
        diff = w[..., None, :] - w[..., :, None]  # [i, j] = w_j - w_i
        n = w.shape[-1]
        eye = xp.eye(n, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            F = xp.where(eye, 0, 1 / xp.where(eye, 1, diff))
        mid = F * inner
        mid[..., xp.arange(n), xp.arange(n)] += gw
        g = v @ mid @ _mT(v)
        return 0.5 * (g + _mT(g))


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices; differentiable (distinct
    eigenvalues)."""
    return Eigh().apply(_square("eigh", x))


def eig(x):
    raise NotImplementedError("keras.ops.linalg.eig is not supported yet: its results are complex and this engine "
                              "has no complex tensors; for symmetric matrices use keras.ops.linalg.eigh")


def qr(x, mode="reduced"):
    """(q, r) of (batches of) matrices; ``mode`` "reduced" or "complete". No gradient."""
    if mode not in ("reduced", "complete"):
        raise OpError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}")
    a = to_float("qr", x)
    q, r = a.xp.linalg.qr(a.data, mode=mode)
    return Tensor(q), Tensor(r)


def svd(x, full_matrices=True, compute_uv=True):
    """(u, s, v^H) of (batches of) matrices as NumPy returns them, or s alone. No gradient."""
    a = to_float("svd", x)
    out = a.xp.linalg.svd(a.data, full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return Tensor(out)
    return tuple(Tensor(o) for o in out)


def lstsq(a, b, rcond=None):
    """The least-squares solution x of a @ x ~= b (a 2-D). No gradient."""
    a, b = floats("lstsq", a, b)
    if a.ndim != 2:
        raise OpError(f"lstsq: a must be 2-D, got shape {a.shape}")
    return Tensor(np.linalg.lstsq(backend.to_numpy(a.data), backend.to_numpy(b.data), rcond=rcond)[0])


def pinv(x, rcond=1e-15, hermitian=False):
    a = to_float("pinv", x)
    return Tensor(a.xp.linalg.pinv(a.data, rcond=rcond, hermitian=hermitian))


def matrix_rank(x, tol=None, hermitian=False):
    a = to_float("matrix_rank", x)
    return Tensor(np.asarray(a.xp.linalg.matrix_rank(a.data, tol=tol, hermitian=hermitian)).astype(np.int32))


def lu_factor(x):
    """(lu, pivots) of square matrices by partial pivoting, as ``scipy.linalg.lu_factor`` (pivots
    int32: row i was swapped with row pivots[i]). No gradient."""
    a = backend.to_numpy(to_float("lu_factor", x).data).copy()
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise OpError(f"lu_factor: expected square matrices, got shape {a.shape}")
    batch = a.shape[:-2]
    a = a.reshape((-1,) + a.shape[-2:])
    n = a.shape[-1]
    piv = np.zeros((a.shape[0], n), np.int32)
    rows = np.arange(a.shape[0])
    for k in range(n):
        p = k + np.argmax(np.abs(a[:, k:, k]), axis=1)
        piv[:, k] = p
        tmp = a[rows, k].copy()
        a[rows, k] = a[rows, p]
        a[rows, p] = tmp
        pivot = a[:, k, k:k + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            a[:, k + 1:, k] = a[:, k + 1:, k] / np.where(pivot == 0, 1, pivot)
        a[:, k + 1:, k + 1:] -= a[:, k + 1:, k:k + 1] * a[:, k:k + 1, k + 1:]
    return Tensor(a.reshape(batch + (n, n))), Tensor(piv.reshape(batch + (n,)))


def jvp(fun, primals, tangents, has_aux=False):
    raise NotImplementedError("keras.ops.linalg.jvp is not supported yet: the engine differentiates in reverse mode "
                              "only (Tensor.backward); compute vector-Jacobian products with backward(grad=...)")


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norms as ``numpy.linalg.norm`` (Keras ``ops.linalg.norm``); differentiable
    except the singular-value ones (ord 2, -2, 'nuc' on matrices)."""
    x = to_float("norm", x)
    if axis is None:
        axes = tuple(range(x.ndim))
        if ord is not None and x.ndim not in (1, 2):
            raise OpError(f"norm: ord={ord!r} needs axis for a tensor of rank {x.ndim}")
    else:
        axes = normalize_axis("norm", axis, x.ndim)
    if ord is None or (len(axes) == 2 and ord == "fro") or (axis is None and ord is None):
        out = sqrt(_sum(mul(x, x), axis=axes, keepdims=keepdims))
        return out
    if len(axes) == 1:
        a = _abs(x)
        if ord == np.inf:
            return _max(a, axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return _min(a, axis=axes, keepdims=keepdims)
        if ord == 0:
            return Tensor((x.data != 0).sum(axis=axes, keepdims=keepdims).astype(x.dtype))
        if ord == 1:
            return _sum(a, axis=axes, keepdims=keepdims)
        if isinstance(ord, str):
            raise OpError(f"norm: ord={ord!r} is not a vector norm")
        return pow(_sum(pow(a, float(ord)), axis=axes, keepdims=keepdims), 1.0 / float(ord))
    if len(axes) != 2:
        raise OpError(f"norm: axis must name 1 or 2 axes, got {axis}")
    r, c = axes
    a = _abs(x)
    if ord in (1, -1):
        s = _sum(a, axis=r, keepdims=True)
        out = (_max if ord == 1 else _min)(s, axis=c, keepdims=True)
    elif ord in (np.inf, -np.inf):
        s = _sum(a, axis=c, keepdims=True)
        out = (_max if ord == np.inf else _min)(s, axis=r, keepdims=True)
    elif ord in (2, -2, "nuc"):
        xp = x.xp
        m = xp.moveaxis(x.data, (r, c), (-2, -1))
        s = xp.linalg.svd(m, compute_uv=False)
        v = s.max(axis=-1) if ord == 2 else (s.min(axis=-1) if ord == -2 else s.sum(axis=-1))
        out = Tensor(xp.expand_dims(xp.expand_dims(v, r), c))
    else:
        raise OpError(f"norm: ord={ord!r} is not a matrix norm")
    if not keepdims:
        from .shape import squeeze

        out = squeeze(out, axis=(r, c))
    return out




def matrix_power(x, n):
    """``x`` multiplied by itself ``n`` times (``n`` an int; negative powers of the inverse, 0 the
    identity), by repeated squaring; differentiable through matmul and inv."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise OpError(f"matrix_power: n must be an integer, got {n!r}")
    x, n = _square("matrix_power", x), int(n)
    if n < 0:
        x, n = inv(x), -n
    result = None
    while n:
        if n & 1:
            result = x if result is None else matmul(result, x)
        n >>= 1
        if n:
            x = matmul(x, x)
    if result is None:
        return broadcast_to(eye(x.shape[-1], dtype=x.dtype), x.shape)
    return result
