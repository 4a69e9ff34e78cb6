"""Every differentiable ``keras.ops`` name added for issue 21: values against NumPy (where
NumPy has the op) and gradients against float64 central differences."""
import math

import numpy as np
import pytest

from core import Tensor, ops
from core.gradient_check import check_gradients

rng = np.random.default_rng(7)


def r(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape)


# name -> (function of Tensors, inputs, NumPy reference or None)
UNARY = {
    "sin": (r(3, 4), np.sin), "cos": (r(3, 4), np.cos), "tan": (r(3, 4), np.tan),
    "arcsin": (r(3, 4, lo=-0.9, hi=0.9), np.arcsin), "arccos": (r(3, 4, lo=-0.9, hi=0.9), np.arccos),
    "arctan": (r(3, 4), np.arctan), "sinh": (r(3, 4), np.sinh), "cosh": (r(3, 4), np.cosh),
    "arcsinh": (r(3, 4), np.arcsinh), "arccosh": (r(3, 4, lo=1.2, hi=3), np.arccosh),
    "arctanh": (r(3, 4, lo=-0.9, hi=0.9), np.arctanh), "log1p": (r(3, 4, lo=-0.5, hi=2), np.log1p),
    "expm1": (r(3, 4), np.expm1), "log2": (r(3, 4, lo=0.2, hi=3), np.log2), "log10": (r(3, 4, lo=0.2, hi=3), np.log10),
    "exp2": (r(3, 4), np.exp2), "cbrt": (r(3, 4, lo=0.2, hi=3), np.cbrt),
    "reciprocal": (r(3, 4, lo=0.5, hi=2), np.reciprocal), "rsqrt": (r(3, 4, lo=0.5, hi=2), lambda a: 1 / np.sqrt(a)),
    "erf": (r(3, 4, lo=-2, hi=2), np.vectorize(math.erf)), "erfc": (r(3, 4, lo=-2, hi=2), np.vectorize(math.erfc)),
    "erfinv": (r(3, 4, lo=-0.9, hi=0.9), None), "deg2rad": (r(3, 4), np.deg2rad), "rad2deg": (r(3, 4), np.rad2deg),
    "sinc": (r(3, 4), np.sinc), "tanh": (r(3, 4), np.tanh), "absolute": (r(3, 4), np.abs),
    "negative": (r(3, 4), np.negative), "square": (r(3, 4), np.square),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_gradients(name):
    x, ref = UNARY[name]
    fn = getattr(ops, name)
    if ref is not None:
        np.testing.assert_allclose(fn(Tensor(x)).numpy(), ref(x), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fn(Tensor(x.astype(np.float32))).numpy(), ref(x), rtol=2e-6, atol=2e-6)
    check_gradients(fn, [x])


def test_erfinv_inverts_erf():
    y = r(50, lo=-0.999, hi=0.999)
    np.testing.assert_allclose(np.vectorize(math.erf)(ops.erfinv(Tensor(y)).numpy()), y, atol=1e-12)
    assert ops.erfinv(Tensor(np.array([1.0, -1.0]))).numpy().tolist() == [np.inf, -np.inf]


BINARY = {
    "arctan2": (np.arctan2, r(3, 4), r(4, lo=0.3, hi=1)), "hypot": (np.hypot, r(3, 4), r(3, 4)),
    "logaddexp": (np.logaddexp, r(3, 4), r(1, 4)), "logaddexp2": (np.logaddexp2, r(3, 4), r(3, 4)),
    "mod": (np.mod, r(3, 4, lo=0.1, hi=3), np.full(4, 0.7)), "fmod": (np.fmod, r(3, 4, lo=-3, hi=3), np.full(4, 0.7)),
    "fmax": (np.fmax, r(3, 4), r(3, 4)), "fmin": (np.fmin, r(3, 4), r(3, 4)),
    "divide_no_nan": (lambda a, b: a / b, r(3, 4), r(3, 4, lo=0.5, hi=2)),
    "true_divide": (np.true_divide, r(3, 4), r(3, 4, lo=0.5, hi=2)),
    "power": (np.power, r(3, 4, lo=0.5, hi=2), r(3, 4)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_and_gradients(name):
    ref, a, b = BINARY[name]
    fn = getattr(ops, name)
    np.testing.assert_allclose(fn(Tensor(a), Tensor(b)).numpy(), ref(a, b), rtol=1e-10, atol=1e-12)
    check_gradients(fn, [a, b])


def test_divide_no_nan_zero_divisor():
    out = ops.divide_no_nan(Tensor(np.array([1.0, 2.0])), Tensor(np.array([0.0, 4.0])))
    assert out.numpy().tolist() == [0.0, 0.5]
    check_gradients(ops.divide_no_nan, [np.array([1.0, 2.0]), np.array([0.0, 4.0])], wrt=[0])


COMPOSED = {
    # name: (function of Tensors, inputs, NumPy reference of the same inputs or None)
    "prod": (lambda x: ops.prod(x, axis=1), [r(3, 4)], lambda a: a.prod(1)),
    "prod_zero": (lambda x: ops.prod(x), [np.array([[0.5, 0.0], [2.0, 3.0]])], lambda a: a.prod()),
    "prod_two_zeros": (lambda x: ops.prod(x, axis=0, keepdims=True), [np.array([[0.0, 1.0], [0.0, 3.0]])], None),
    "cumsum": (lambda x: ops.cumsum(x, axis=0), [r(3, 4)], lambda a: a.cumsum(0)),
    "cumprod": (lambda x: ops.cumprod(x, axis=1), [r(3, 4)], lambda a: a.cumprod(1)),
    "cumprod_zero": (lambda x: ops.cumprod(x), [np.array([1.5, 0.0, 2.0, -1.0])], lambda a: a.cumprod()),
    "logsumexp": (lambda x: ops.logsumexp(x, axis=-1), [r(3, 4) * 5], lambda a: np.log(np.exp(a).sum(-1))),
    "median": (lambda x: ops.median(x, axis=1), [r(3, 6)], lambda a: np.median(a, 1)),
    "quantile": (lambda x: ops.quantile(x, [0.2, 0.7], axis=0), [r(5, 3)], lambda a: np.quantile(a, [0.2, 0.7], 0)),
    "percentile": (lambda x: ops.percentile(x, 30.0, keepdims=True), [r(4, 3)],
                   lambda a: np.percentile(a, 30.0, keepdims=True)),
    "nanquantile": (lambda x: ops.nanquantile(x, 0.4, axis=1), [np.array([[1.0, np.nan, 3.0, 0.5], [2.0, 1.0, np.nan, np.nan]])],
                    lambda a: np.nanquantile(a, 0.4, axis=1)),
    "nansum": (lambda x: ops.nansum(x, axis=0), [np.array([[1.0, np.nan], [2.0, 3.0]])], lambda a: np.nansum(a, 0)),
    "nanmean": (lambda x: ops.nanmean(x, axis=1), [np.array([[1.0, np.nan, 4.0], [2.0, 3.0, 5.0]])],
                lambda a: np.nanmean(a, 1)),
    "nanvar": (lambda x: ops.nanvar(x, axis=1), [np.array([[1.0, np.nan, 4.0], [2.0, 3.0, 5.0]])],
               lambda a: np.nanvar(a, 1)),
    "nanstd": (lambda x: ops.nanstd(x), [np.array([[1.0, np.nan, 4.0], [2.0, 3.0, 5.0]])], lambda a: np.nanstd(a)),
    "nanmax": (lambda x: ops.nanmax(x, axis=1), [np.array([[1.0, np.nan, 4.0], [2.0, 3.0, 5.0]])],
               lambda a: np.nanmax(a, 1)),
    "nanprod": (lambda x: ops.nanprod(x, axis=1), [np.array([[1.5, np.nan, 4.0], [2.0, 3.0, 5.0]])],
                lambda a: np.nanprod(a, 1)),
    "nancumsum": (lambda x: ops.nancumsum(x, axis=1), [np.array([[1.5, np.nan, 4.0]])], lambda a: np.nancumsum(a, 1)),
    "ptp": (lambda x: ops.ptp(x, axis=0), [r(4, 3)], lambda a: np.ptp(a, 0)),
    "average": (lambda x, w: ops.average(x, axis=1, weights=w), [r(3, 4), r(4, lo=0.2, hi=1)],
                lambda a, w: np.average(a, 1, w)),
    "corrcoef": (ops.corrcoef, [r(3, 6)], np.corrcoef),
    "sort": (lambda x: ops.sort(x, axis=0), [r(5, 3)], lambda a: np.sort(a, 0)),
    "top_k": (lambda x: ops.top_k(x, 2)[0], [r(3, 5)], lambda a: -np.sort(-a, -1)[:, :2]),
    "take": (lambda x: ops.take(x, np.array([[0, 2], [2, -1]]), axis=1), [r(3, 4)],
             lambda a: np.take(a, [[0, 2], [2, -1]], 1)),
    "take_flat": (lambda x: ops.take(x, np.array([5, 0, 5])), [r(2, 3)], lambda a: np.take(a, [5, 0, 5])),
    "take_along_axis": (lambda x: ops.take_along_axis(x, np.array([[1, 1], [0, 2], [2, 0]]), axis=1), [r(3, 3)],
                        lambda a: np.take_along_axis(a, np.array([[1, 1], [0, 2], [2, 0]]), 1)),
    "slice": (lambda x: ops.slice(x, (1, 0), (2, 3)), [r(4, 5)], lambda a: a[1:3, 0:3]),
    "slice_update": (lambda x, u: ops.slice_update(x, (1, 2), u), [r(4, 5), r(2, 2)], None),
    "scatter": (lambda v: ops.scatter(np.array([[0, 1], [2, 2], [0, 1]]), v, (3, 4)), [r(3)], None),
    "scatter_update": (lambda x, u: ops.scatter_update(x, np.array([[1], [3]]), u), [r(4, 3), r(2, 3)], None),
    "segment_sum": (lambda d: ops.segment_sum(d, np.array([0, 0, 2, 1]), num_segments=4), [r(4, 2)], None),
    "segment_max": (lambda d: ops.segment_max(d, np.array([0, 0, 2, 1]), num_segments=3), [r(4, 2)], None),
    "roll": (lambda x: ops.roll(x, 2, axis=1), [r(3, 4)], lambda a: np.roll(a, 2, 1)),
    "roll_flat": (lambda x: ops.roll(x, -3), [r(3, 4)], lambda a: np.roll(a, -3)),
    "flip": (lambda x: ops.flip(x, axis=0), [r(3, 4)], lambda a: np.flip(a, 0)),
    "rot90": (lambda x: ops.rot90(x, k=1), [r(3, 4)], lambda a: np.rot90(a, 1)),
    "tril": (lambda x: ops.tril(x, k=1), [r(4, 4)], lambda a: np.tril(a, 1)),
    "triu": (lambda x: ops.triu(x), [r(2, 3, 3)], lambda a: np.triu(a)),
    "diag_vec": (lambda x: ops.diag(x, k=-1), [r(3)], lambda a: np.diag(a, -1)),
    "diag_mat": (lambda x: ops.diag(x, k=1), [r(3, 4)], lambda a: np.diag(a, 1)),
    "diagonal": (lambda x: ops.diagonal(x, offset=-1, axis1=0, axis2=2), [r(4, 2, 3)],
                 lambda a: np.diagonal(a, -1, 0, 2)),
    "trace": (lambda x: ops.trace(x), [r(3, 3)], np.trace),
    "diff": (lambda x: ops.diff(x, n=2, axis=0), [r(5, 3)], lambda a: np.diff(a, 2, 0)),
    "append": (lambda x, y: ops.append(x, y, axis=1), [r(2, 2), r(2, 3)], lambda a, b: np.append(a, b, 1)),
    "moveaxis": (lambda x: ops.moveaxis(x, 0, -1), [r(2, 3, 4)], lambda a: np.moveaxis(a, 0, -1)),
    "unstack": (lambda x: tuple(ops.unstack(x, axis=1)), [r(2, 3)], None),
    "repeat_counts": (lambda x: ops.repeat(x, [1, 0, 2], axis=1), [r(2, 3)], lambda a: np.repeat(a, [1, 0, 2], 1)),
    "pad_reflect": (lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="reflect"), [r(3, 4)],
                    lambda a: np.pad(a, ((1, 2), (2, 1)), mode="reflect")),
    "pad_wrap": (lambda x: ops.pad(x, 1, mode="wrap"), [r(3, 4)], lambda a: np.pad(a, 1, mode="wrap")),
    "hstack": (lambda x, y: ops.hstack([x, y]), [r(2, 2), r(2, 1)], lambda a, b: np.hstack([a, b])),
    "vstack": (lambda x, y: ops.vstack([x, y]), [r(3), r(3)], lambda a, b: np.vstack([a, b])),
    "dstack": (lambda x, y: ops.dstack([x, y]), [r(2, 3), r(2, 3)], lambda a, b: np.dstack([a, b])),
    "array_split": (lambda x: tuple(ops.array_split(x, 3, axis=1)), [r(2, 7)], None),
    "tensordot": (lambda x, y: ops.tensordot(x, y, axes=1), [r(2, 3), r(3, 4)], lambda a, b: np.tensordot(a, b, 1)),
    "dot": (ops.dot, [r(2, 3, 4), r(4, 2)], np.dot), "dot_vec": (ops.dot, [r(2, 3), r(3)], np.dot),
    "inner": (ops.inner, [r(2, 3), r(4, 3)], np.inner), "outer": (ops.outer, [r(3), r(2, 2)], np.outer),
    "vdot": (ops.vdot, [r(2, 3), r(3, 2)], lambda a, b: np.vdot(a, b)),
    "kron": (ops.kron, [r(2, 2), r(3)], np.kron), "cross": (ops.cross, [r(4, 3), r(4, 3)], np.cross),
    "cross2": (ops.cross, [r(4, 2), r(4, 2)], lambda a, b: a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]),
    "einsum_broadcast": (lambda x, y: ops.einsum("...ij,jk", x, y), [r(2, 3, 4), r(4, 2)],
                         lambda a, b: np.einsum("...ij,jk", a, b)),
    "einsum_diag": (lambda x: ops.einsum("ii->i", x), [r(3, 3)], lambda a: np.einsum("ii->i", a)),
    "einsum_outer_sum": (lambda x, y: ops.einsum("ij,k->i", x, y), [r(2, 3), r(4)],
                         lambda a, b: np.einsum("ij,k->i", a, b)),
    "meshgrid": (lambda x, y: tuple(ops.meshgrid(x, y)), [r(3), r(4)], None),
    "meshgrid_ij": (lambda x, y: tuple(ops.meshgrid(x, y, indexing="ij")), [r(3), r(4)], None),
    "vander": (lambda x: ops.vander(x, 3), [r(4)], lambda a: np.vander(a, 3)),
    "trapezoid": (lambda y, x: ops.trapezoid(y, x), [r(2, 5), np.sort(r(5))], lambda a, b: np.trapezoid(a, b)),
    "ldexp": (lambda x: ops.ldexp(x, np.array([1, -2, 3])), [r(3)], lambda a: np.ldexp(a, [1, -2, 3])),
    "nan_to_num": (lambda x: ops.nan_to_num(x, nan=2.0), [np.array([1.0, np.nan, 3.0])],
                   lambda a: np.nan_to_num(a, nan=2.0)),
    "clip": (lambda x: ops.clip(x, -0.5, 0.5), [np.array([-0.9, -0.2, 0.3, 0.8])], lambda a: np.clip(a, -0.5, 0.5)),
    "max_initial": (lambda x: ops.max(x, axis=1, initial=0.3), [r(3, 4)], lambda a: np.max(a, 1, initial=0.3)),
    "std": (lambda x: ops.std(x, axis=0), [r(4, 3)], lambda a: np.std(a, 0)),
    "amax": (lambda x: ops.amax(x, axis=1), [r(3, 4)], lambda a: np.amax(a, 1)),
    "vectorize_signature": (lambda a, b: ops.vectorize(lambda u, v: ops.sum(u * v), signature="(n),(n)->()")(a, b),
                            [r(2, 3, 4), r(3, 4)], lambda a, b: (a * b).sum(-1)),
    "vectorize_elementwise": (lambda a, b: ops.vectorize(lambda u, v: u * v + 1.0)(a, b), [r(2, 3), r(3)],
                              lambda a, b: a * b + 1.0),
    "rearrange": (lambda x: ops.rearrange(x, "b (h h1) w -> b h (w h1)", h1=2), [r(2, 4, 3)],
                  lambda a: a.reshape(2, 2, 2, 3).transpose(0, 1, 3, 2).reshape(2, 2, 6)),
    "expand_dims_tuple": (lambda x: ops.expand_dims(x, (0, 2)), [r(3, 4)], lambda a: np.expand_dims(a, (0, 2))),
}


@pytest.mark.parametrize("name", sorted(COMPOSED))
def test_composed_values_and_gradients(name):
    fn, inputs, ref = COMPOSED[name]
    if ref is not None:
        out = fn(*[Tensor(a) for a in inputs])
        np.testing.assert_allclose(out.numpy(), ref(*inputs), rtol=1e-10, atol=1e-12)
    check_gradients(fn, inputs)


def test_values_of_the_scatter_family():
    v = np.array([1.0, 2.0, 3.0])
    out = ops.scatter(np.array([[0, 1], [2, 2], [0, 1]]), Tensor(v), (3, 4)).numpy()
    want = np.zeros((3, 4))
    want[0, 1], want[2, 2] = 4.0, 2.0
    np.testing.assert_array_equal(out, want)
    x = r(4, 3)
    u = r(2, 3)
    got = ops.scatter_update(Tensor(x), np.array([[1], [3]]), Tensor(u)).numpy()
    want = x.copy()
    want[[1, 3]] = u
    np.testing.assert_array_equal(got, want)
    got = ops.scatter_update(Tensor(x), np.array([[1, 2], [1, 2]]), Tensor(np.array([1.0, 2.0])), reduction="add")
    want = x.copy()
    want[1, 2] += 3.0
    np.testing.assert_allclose(got.numpy(), want)
    d = r(4, 2)
    seg = ops.segment_max(Tensor(d), np.array([0, 0, 2, 1]), num_segments=4).numpy()
    np.testing.assert_array_equal(seg[:3], np.stack([d[:2].max(0), d[3], d[2]]))
    assert (seg[3] == np.finfo(np.float64).min).all()  # an empty segment: the lowest value, as TensorFlow


def test_segment_max_ties_share_the_gradient():
    d = Tensor(np.array([[2.0], [2.0], [1.0]]), requires_grad=True)
    ops.sum(ops.segment_max(d, np.array([0, 0, 0]))).backward()
    np.testing.assert_allclose(d.grad, [[0.5], [0.5], [0.0]])


LINALG = {
    "inv": (ops.linalg.inv, [r(2, 3, 3) + 3 * np.eye(3)], np.linalg.inv),
    "det": (ops.linalg.det, [r(2, 3, 3) + 2 * np.eye(3)], np.linalg.det),
    "slogdet": (lambda a: ops.slogdet(a)[1], [r(3, 3) + 2 * np.eye(3)], lambda a: np.linalg.slogdet(a)[1]),
    "solve": (ops.linalg.solve, [r(2, 3, 3) + 3 * np.eye(3), r(2, 3, 2)], np.linalg.solve),
    "solve_vec": (ops.linalg.solve, [r(3, 3) + 3 * np.eye(3), r(3)], np.linalg.solve),
    "solve_triangular": (lambda a, b: ops.linalg.solve_triangular(a, b, lower=True),
                         [r(3, 3) + 3 * np.eye(3), r(3, 2)], lambda a, b: np.linalg.solve(np.tril(a), b)),
    "cholesky": (lambda b: ops.linalg.cholesky(ops.matmul(b, ops.swapaxes(b, -1, -2)) + 0.5 * np.eye(3)),
                 [r(2, 3, 3)], lambda b: np.linalg.cholesky(b @ np.swapaxes(b, -1, -2) + 0.5 * np.eye(3))),
    "cholesky_upper": (lambda b: ops.linalg.cholesky(ops.matmul(b, ops.transpose(b)) + np.eye(3), upper=True),
                       [r(3, 3)], lambda b: np.linalg.cholesky(b @ b.T + np.eye(3)).T),
    "cholesky_inverse": (lambda b: ops.linalg.cholesky_inverse(ops.tril(b) + 2 * np.eye(3)), [r(3, 3)],
                         lambda b: np.linalg.inv((np.tril(b) + 2 * np.eye(3)) @ (np.tril(b) + 2 * np.eye(3)).T)),
    "eigh_values": (lambda b: ops.linalg.eigh(ops.matmul(b, ops.transpose(b)))[0], [r(3, 3)],
                    lambda b: np.linalg.eigh(b @ b.T)[0]),
    "eigh_vectors_sq": (lambda b: ops.square(ops.linalg.eigh(ops.matmul(b, ops.transpose(b)))[1]), [r(3, 3)],
                        lambda b: np.linalg.eigh(b @ b.T)[1] ** 2),
    "norm_vec3": (lambda x: ops.linalg.norm(x, ord=3, axis=1), [r(3, 4)], lambda a: np.linalg.norm(a, 3, 1)),
    "norm_fro": (lambda x: ops.linalg.norm(x, keepdims=True), [r(3, 4)],
                 lambda a: np.linalg.norm(a, keepdims=True)),
    "norm_mat1": (lambda x: ops.linalg.norm(x, ord=1, axis=(0, 1)), [r(3, 4)], lambda a: np.linalg.norm(a, 1)),
    "norm_inf": (lambda x: ops.linalg.norm(x, ord=np.inf, axis=-1), [r(3, 4)],
                 lambda a: np.linalg.norm(a, np.inf, -1)),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_values_and_gradients(name):
    fn, inputs, ref = LINALG[name]
    np.testing.assert_allclose(fn(*[Tensor(a) for a in inputs]).numpy(), ref(*inputs), rtol=1e-9, atol=1e-10)
    check_gradients(fn, inputs, atol=1e-5, rtol=1e-4)


def test_linalg_without_gradient_match_numpy():
    a = r(4, 3)
    q, rr = ops.linalg.qr(Tensor(a))
    np.testing.assert_allclose(q.numpy() @ rr.numpy(), a, atol=1e-12)
    u, s, vh = ops.linalg.svd(Tensor(a), full_matrices=False)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), a, atol=1e-12)
    b = r(4, 2)
    np.testing.assert_allclose(ops.linalg.lstsq(Tensor(a), Tensor(b)).numpy(), np.linalg.lstsq(a, b, rcond=None)[0])
    np.testing.assert_allclose(ops.linalg.pinv(Tensor(a)).numpy(), np.linalg.pinv(a))
    assert int(ops.linalg.matrix_rank(Tensor(a)).numpy()) == 3
    m = r(2, 4, 4)
    lu, piv = ops.linalg.lu_factor(Tensor(m))
    for k in range(2):  # P A = L U rebuilt from scipy's (lu, piv) convention
        L = np.tril(lu.numpy()[k], -1) + np.eye(4)
        U = np.triu(lu.numpy()[k])
        perm = np.arange(4)
        for i, p in enumerate(piv.numpy()[k]):
            perm[[i, p]] = perm[[p, i]]
        np.testing.assert_allclose(m[k][perm], L @ U, atol=1e-12)


NN = {
    "celu": (lambda x: ops.celu(x, alpha=0.7), [r(3, 4, lo=-2, hi=2)]),
    "glu": (lambda x: ops.glu(x, axis=0), [r(4, 3)]),
    "hard_silu": (ops.hard_silu, [np.array([-4.0, -2.0, 0.5, 2.5, 4.0])]),
    "log_sigmoid": (ops.log_sigmoid, [r(3, 4) * 20]),
    "softsign": (ops.softsign, [r(3, 4)]),
    "squareplus": (lambda x: ops.squareplus(x, b=2), [r(3, 4)]),
    "sparse_plus": (ops.sparse_plus, [np.array([-1.5, -0.5, 0.3, 1.5])]),
    "sparse_sigmoid": (ops.sparse_sigmoid, [np.array([-1.5, -0.5, 0.3, 1.5])]),
    "hard_shrink": (ops.hard_shrink, [np.array([-1.5, -0.2, 0.3, 1.5])]),
    "soft_shrink": (ops.soft_shrink, [np.array([-1.5, -0.2, 0.3, 1.5])]),
    "tanh_shrink": (ops.tanh_shrink, [r(3, 4)]),
    "hard_tanh": (ops.hard_tanh, [np.array([-1.5, -0.2, 0.3, 1.5])]),
    "threshold": (lambda x: ops.threshold(x, 0.1, -3.0), [np.array([-1.5, -0.2, 0.3, 1.5])]),
    "sparsemax": (ops.sparsemax, [np.array([[0.1, 0.2, 0.35], [1.0, 2.0, 3.3]])]),
    "logsumexp_all": (ops.logsumexp, [r(3, 4)]),
    "normalize": (ops.normalize, [r(3, 4)]),
    "normalize_l3": (lambda x: ops.normalize(x, order=3, axis=0), [r(3, 4)]),
    "rms_normalization": (lambda x, s: ops.rms_normalization(x, s), [r(3, 4), r(4)]),
    "layer_normalization": (lambda x, g, b: ops.layer_normalization(x, g, b), [r(3, 4), r(4), r(4)]),
    "batch_normalization": (lambda x, m, v, o, s: ops.batch_normalization(x, m, v, axis=1, offset=o, scale=s),
                            [r(3, 4), r(4), r(4, lo=0.5, hi=2), r(4), r(4)]),
    "moments": (lambda x: ops.moments(x, axes=[0, 1]), [r(3, 4, 2)]),
    "psnr": (lambda a, b: ops.psnr(a, b, 2.0), [r(3, 4), r(3, 4)]),
    "bce": (ops.binary_crossentropy, [rng.random((3, 4)), r(3, 4, lo=0.1, hi=0.9)]),
    "bce_logits": (lambda t, z: ops.binary_crossentropy(t, z, from_logits=True), [rng.random((3, 4)), r(3, 4) * 3]),
    "cce": (lambda t, p: ops.categorical_crossentropy(t, p), [rng.random((3, 4)), r(3, 4, lo=0.1, hi=0.9)]),
    "conv1d": (lambda x, k: ops.conv(x, k, strides=2, padding="same"), [r(2, 7, 3), r(3, 3, 2)]),
    "conv2d_channels_first": (lambda x, k: ops.conv(x, k, data_format="channels_first"), [r(1, 2, 5, 4), r(2, 2, 2, 3)]),
    "conv_transpose1d": (lambda x, k: ops.conv_transpose(x, k, strides=2, padding="same"), [r(1, 4, 2), r(3, 3, 2)]),
    "depthwise_conv1d": (lambda x, k: ops.depthwise_conv(x, k, padding="same"), [r(1, 6, 2), r(3, 2, 2)]),
    "separable_conv": (lambda x, d, p: ops.separable_conv(x, d, p, padding="same"),
                       [r(1, 5, 5, 2), r(3, 3, 2, 2), r(1, 1, 4, 3)]),
    "max_pool": (lambda x: ops.max_pool(x, 2, strides=1), [r(1, 4, 4, 2)]),
    "average_pool1d": (lambda x: ops.average_pool(x, 3, strides=2, padding="same"), [r(2, 7, 2)]),
    "attention": (lambda q, k, v: ops.dot_product_attention(q, k, v, mask=np.array([[[[1, 1, 0]]]], bool)),
                  [r(1, 2, 2, 3), r(1, 3, 2, 3), r(1, 3, 2, 3)]),
    "attention_causal_bias": (lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b, is_causal=True),
                              [r(1, 3, 1, 2), r(1, 3, 1, 2), r(1, 3, 1, 2), r(1, 1, 3, 3)]),
    "attention_gqa_softcap": (lambda q, k, v: ops.dot_product_attention(q, k, v, attn_logits_soft_cap=2.0),
                              [r(1, 2, 4, 2), r(1, 3, 2, 2), r(1, 3, 2, 2)]),
    "rgb_to_hsv": (ops.image.rgb_to_hsv, [rng.random((1, 2, 3, 3)) * 0.8 + 0.1]),
    "hsv_to_rgb": (ops.image.hsv_to_rgb, [np.array([[[[0.1, 0.5, 0.7], [0.45, 0.2, 0.3], [0.8, 0.9, 0.4]]]])]),
    "rgb_to_grayscale": (ops.image.rgb_to_grayscale, [r(2, 3, 3, 3)]),
    "extract_patches": (lambda x: ops.image.extract_patches(x, 2), [r(1, 4, 4, 2)]),
    "pad_images": (lambda x: ops.image.pad_images(x, 1, 0, target_height=5, target_width=4), [r(1, 3, 3, 1)]),
    "crop_images": (lambda x: ops.image.crop_images(x, 1, 1, target_height=2, target_width=2), [r(4, 4, 1)]),
    "gaussian_blur": (lambda x: ops.image.gaussian_blur(x, (3, 5), (0.8, 1.2)), [r(1, 4, 5, 2)]),
    "sobel_edges": (ops.image.sobel_edges, [r(1, 4, 4, 1)]),
    "depth_to_space": (lambda x: ops.depth_to_space(x, 2), [r(1, 2, 2, 8)]),
    "space_to_depth_cf": (lambda x: ops.space_to_depth(x, 2, data_format="channels_first"), [r(1, 2, 4, 4)]),
    "adaptive_average_pool": (lambda x: ops.adaptive_average_pool(x, (2, 3)), [r(1, 5, 7, 2)]),
    "adaptive_max_pool1d": (lambda x: ops.adaptive_max_pool(x, 3), [r(2, 7, 2)]),
    "extract_sequences": (lambda x: ops.extract_sequences(x, 3, 2), [r(2, 9)]),
    "cdist": (ops.cdist, [r(3, 2), r(4, 2)]),
    "unfold": (lambda x: ops.unfold(x, (2, 2), padding=1, stride=2), [r(1, 2, 3, 4)]),
    "fold": (lambda x: ops.fold(x, (3, 4), (2, 2), padding=1, stride=1), [r(1, 8, 20)]),
    "real_conj": (lambda x: ops.multiply(ops.real(x), ops.conj(x)), [r(3)]),
    "fft": (lambda a, b: ops.fft((a, b)), [r(2, 5), r(2, 5)]),
    "fft2": (lambda a, b: ops.fft2((a, b)), [r(3, 4), r(3, 4)]),
    "ifft2": (lambda a, b: ops.ifft2((a, b)), [r(3, 4), r(3, 4)]),
    "rfft": (lambda x: ops.rfft(x), [r(2, 7)]),
    "rfft_pad_crop": (lambda x: ops.rfft(x, 10) + ops.rfft(x, 4), [r(2, 6)]),
    "irfft_even": (lambda a, b: ops.irfft((a, b)), [r(2, 5), r(2, 5)]),
    "irfft_odd_len": (lambda a, b: ops.irfft((a, b), 7), [r(2, 5), r(2, 5)]),
    "stft": (lambda x: ops.stft(x, 6, 3, 8), [r(2, 20)]),
    "istft": (lambda a, b: ops.istft((a, b), 6, 3, 8), [r(2, 7, 5), r(2, 7, 5)]),
    "correlate_same": (lambda a, b: ops.correlate(a, b, mode="same"), [r(6), r(4)]),
    "ssim": (lambda a, b: ops.image.ssim(a, b, filter_size=3), [rng.random((1, 5, 5, 2)), rng.random((1, 5, 5, 2))]),
    "vectorize": (lambda a, b: ops.vectorize(lambda u, v: ops.sum(u * v), signature="(n),(n)->()")(a, b),
                  [r(2, 3, 4), r(3, 4)]),
    "vectorize_scalars": (lambda a: ops.vectorize(lambda u: u * u + 1.0)(a), [r(2, 3)]),
    "map_coordinates": (lambda x: ops.image.map_coordinates(x, np.array([[0.3, 2.7, -1.2], [1.4, 0.5, 3.9]]), 1,
                                                            fill_mode="reflect"), [r(3, 4)]),
    "perspective_transform": (lambda x: ops.image.perspective_transform(
        x, np.array([[0, 0], [4, 0], [0, 3], [4, 3]]), np.array([[0.5, 0.2], [3.6, 0.1], [0.3, 2.7], [3.8, 3.1]])),
        [r(1, 4, 5, 2)]),
    "ctc_loss": (lambda z: ops.ctc_loss(np.array([[1, 1], [2, 0]]), z, np.array([2, 1]), np.array([5, 4])),
                 [r(2, 5, 3)]),
}


@pytest.mark.parametrize("name", sorted(NN))
def test_nn_gradients(name):
    fn, inputs = NN[name]
    check_gradients(fn, inputs, atol=1e-5, rtol=1e-4)


def test_sparsemax_is_the_simplex_projection():
    x = r(5, 7) * 3
    out = ops.sparsemax(Tensor(x)).numpy()
    np.testing.assert_allclose(out.sum(-1), 1.0)
    assert (out >= 0).all()
    # brute force: the projection onto the simplex minimises |p - x|^2; check the KKT condition
    for row, p in zip(x, out):
        tau = (row - p)[p > 0]
        np.testing.assert_allclose(tau, tau[0])
        assert (row[p == 0] <= tau[0] + 1e-12).all()


def test_custom_gradient_and_stop_gradient():
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    x = Tensor(np.array([0.0, 2.0, 100.0]), requires_grad=True)
    y = log1pexp(x)
    np.testing.assert_allclose(y.numpy()[:2], np.log1p(np.exp([0.0, 2.0])))
    ops.sum(y).backward()
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-np.array([0.0, 2.0, 100.0]))))
    z = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert not ops.stop_gradient(z).requires_grad
    w = ops.add(ops.multiply(z, z), ops.stop_gradient(ops.multiply(z, 3.0)))
    ops.sum(w).backward()
    np.testing.assert_allclose(z.grad, [2.0, 4.0])


def test_control_flow_is_differentiable():
    def body(i, acc):
        return ops.multiply(acc, 1.5)

    check_gradients(lambda x: ops.fori_loop(0, 3, body, x), [r(3)])
    check_gradients(lambda x: ops.while_loop(lambda v: ops.sum(v) < 100.0, lambda v: ops.multiply(v, 2.0), x,
                                             maximum_iterations=4), [r(3, lo=0.5, hi=1.0)])
    check_gradients(lambda x, h: ops.scan(lambda c, xi: (ops.add(ops.multiply(c, 0.5), xi), ops.square(c)), h, x),
                    [r(4, 2), r(2)])
    check_gradients(lambda x: ops.associative_scan(ops.add, x, axis=1), [r(2, 4)])
    check_gradients(lambda x: ops.map(lambda v: ops.sum(ops.square(v)), x), [r(3, 2)])
    np.testing.assert_allclose(ops.associative_scan(ops.multiply, Tensor(np.array([1.0, 2.0, 3.0, 4.0])),
                                                    reverse=True).numpy(), [24.0, 24.0, 12.0, 4.0])
    assert ops.cond(Tensor(np.array(True)), lambda: 1, lambda: 2) == 1
    assert ops.switch(5, [lambda x: x + 1, lambda x: x * 10], 3) == 30
