"""Keras's NumPy-style elementwise math (``keras.ops.sin``, ``log1p``, ``arctan2``, ``mod``, ...),
each with a vectorised derivative; integer inputs give float32 results as in Keras."""
from __future__ import annotations

import math as _math

import numpy as np

from .. import backend
from ..autodiff import Function, Tensor, as_tensor
from ..backend import get_xp
from ._util import broadcast_shape, sum_to, tensors
from .activations import _normal_cdf_numpy, erf_f32


def to_float(op, x):
    """``x`` as a float Tensor: integer and boolean inputs become floatx (Keras's rule)."""
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if t.dtype.kind != "f":
        t = Tensor(t.data.astype(backend.floatx()))
    return t


def floats(op, *xs):
    """The arguments as float Tensors of one dtype: constants take the float tensor's dtype,
    integer tensors become that dtype (or floatx)."""
    like = next((x for x in xs if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    if like is None:
        return [to_float(op, x) for x in xs]
    return tensors(op, *xs)


class Elementwise(Function):
    """y = f(x) with dy/dx = df(xp, x, y): the table of unary ops below."""

    def __init__(self, f, df):
        self.f, self.df = f, df

    def forward(self, x):
        xp = get_xp(x)
        self.xp = xp
        y = self.f(xp, x)
        if self.needs_input_grad[0]:
            self.x, self.y = x, y
        return y

    def backward(self, gy):
        return gy * self.df(self.xp, self.x, self.y)


def erf_array(xp, x):
    """erf elementwise: float32 by Eigen's rational form (TensorFlow's), other floats in float64."""
    if x.dtype == np.float32:
        return erf_f32(xp, x)
    if xp is not np:
        import cupyx.scipy.special as sp  # type: ignore

        return sp.erf(x)
    return (2.0 * _normal_cdf_numpy(np.asarray(x, np.float64) * _math.sqrt(2.0)) - 1.0).astype(x.dtype)


def _erf64(x):
    return 2.0 * _normal_cdf_numpy(x * _math.sqrt(2.0)) - 1.0


def erfinv_array(xp, y):
    """The inverse of erf: Giles' approximation refined by Newton steps on a float64 erf."""
    with np.errstate(divide="ignore", invalid="ignore"):  # y = +-1 give +-inf, set below
        return _erfinv(xp, y)


def _erfinv(xp, y):
    dt = y.dtype
    y64 = backend.to_numpy(y).astype(np.float64)
    w = -np.log((1.0 - y64) * (1.0 + y64))
    small = w < 5.0
    ws = w - 2.5
    p = np.where(small, 2.81022636e-08, -0.000200214257)
    cs = [(3.43273939e-07, 0.000100950558), (-3.5233877e-06, 0.00134934322), (-4.39150654e-06, -0.00367342844),
          (0.00021858087, 0.00573950773), (-0.00125372503, -0.0076224613), (-0.00417768164, 0.00943887047),
          (0.246640727, 1.00167406), (1.50140941, 2.83297682)]
    wl = np.sqrt(np.maximum(w, 5.0)) - 3.0
    ww = np.where(small, ws, wl)
    for a, b in cs:
        p = np.where(small, a, b) + p * ww
    x = p * y64
    inner = np.abs(y64) < 1.0
    for _ in range(3):
        err = _erf64(x) - y64
        x = np.where(inner, x - err / (2.0 / _math.sqrt(_math.pi) * np.exp(-x * x)), x)
    x = np.where(y64 == 1.0, np.inf, np.where(y64 == -1.0, -np.inf, x))
    out = x.astype(dt)
    return backend.to_device(out, backend.device_of(y)) if xp is not np else out


_LN2, _LN10 = _math.log(2.0), _math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)

# name: (forward, derivative(xp, x, y))
_UNARY = {
    "sin": (lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x)),
    "cos": (lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x)),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y),
    "arcsin": (lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x)),
    "arccos": (lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x)),
    "arctan": (lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x)),
    "sinh": (lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x)),
    "cosh": (lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x)),
    "arcsinh": (lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1)),
    "arccosh": (lambda xp, x: xp.arccosh(x), lambda xp, x, y: 1 / xp.sqrt(x * x - 1)),
    "arctanh": (lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x)),
    "log1p": (lambda xp, x: xp.log1p(x), lambda xp, x, y: 1 / (1 + x)),
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, x, y: y + 1),
    "log2": (lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * x.dtype.type(_LN2))),
    "log10": (lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * x.dtype.type(_LN10))),
    "exp2": (lambda xp, x: xp.exp2(x), lambda xp, x, y: y * y.dtype.type(_LN2)),
    "cbrt": (lambda xp, x: xp.cbrt(x), lambda xp, x, y: 1 / (3 * y * y)),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, x, y: -y * y),
    "rsqrt": (lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y),
    "erf": (erf_array, lambda xp, x, y: x.dtype.type(_TWO_OVER_SQRT_PI) * xp.exp(-x * x)),
    "erfc": (lambda xp, x: 1 - erf_array(xp, x), lambda xp, x, y: -x.dtype.type(_TWO_OVER_SQRT_PI) * xp.exp(-x * x)),
    "erfinv": (erfinv_array, lambda xp, x, y: y.dtype.type(_math.sqrt(_math.pi) / 2) * xp.exp(y * y)),
    "deg2rad": (lambda xp, x: xp.deg2rad(x), lambda xp, x, y: x.dtype.type(_math.pi / 180)),
    "rad2deg": (lambda xp, x: xp.rad2deg(x), lambda xp, x, y: x.dtype.type(180 / _math.pi)),
    "sinc": (lambda xp, x: xp.sinc(x),
             lambda xp, x, y: xp.where(x == 0, 0, (xp.cos(_math.pi * x) - y) / xp.where(x == 0, 1, x))),
}


def _unary(name):
    f, df = _UNARY[name]

    def op(x):
        return Elementwise(f, df).apply(to_float(name, x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` elementwise (Keras ``ops.{name}``); integer inputs give floatx."
    return op


sin, cos, tan = _unary("sin"), _unary("cos"), _unary("tan")
arcsin, arccos, arctan = _unary("arcsin"), _unary("arccos"), _unary("arctan")
sinh, cosh = _unary("sinh"), _unary("cosh")
arcsinh, arccosh, arctanh = _unary("arcsinh"), _unary("arccosh"), _unary("arctanh")
log1p, expm1, log2, log10, exp2, cbrt = (_unary("log1p"), _unary("expm1"), _unary("log2"), _unary("log10"),
                                         _unary("exp2"), _unary("cbrt"))
reciprocal, rsqrt, erf, erfc, erfinv = (_unary("reciprocal"), _unary("rsqrt"), _unary("erf"), _unary("erfc"),
                                        _unary("erfinv"))
deg2rad, rad2deg, sinc = _unary("deg2rad"), _unary("rad2deg"), _unary("sinc")


# ----------------------------------------------------------------------------- piecewise-constant
def _constant_unary(name, fn, keep_int=True):
    """Ops whose derivative is zero almost everywhere (floor, sign, ...): a result without gradient."""

    def op(x):
        t = x if isinstance(x, Tensor) else as_tensor(x)
        data = t.data
        if data.dtype.kind in "biu" and not keep_int:
            data = data.astype(backend.floatx())
        return Tensor(fn(get_xp(data), data))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` elementwise (Keras ``ops.{name}``); no gradient (zero almost everywhere)."
    return op


floor = _constant_unary("floor", lambda xp, x: xp.floor(x), keep_int=False)
ceil = _constant_unary("ceil", lambda xp, x: xp.ceil(x), keep_int=False)
trunc = _constant_unary("trunc", lambda xp, x: xp.trunc(x))
sign = _constant_unary("sign", lambda xp, x: xp.sign(x))
signbit = _constant_unary("signbit", lambda xp, x: xp.signbit(x))


def round(x, decimals=0):
    """Round half to even to ``decimals`` places (Keras ``ops.round``); no gradient."""
    t = x if isinstance(x, Tensor) else as_tensor(x)
    return Tensor(get_xp(t.data).round(t.data, decimals))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN and infinities replaced by finite numbers; the gradient passes where ``x`` was finite."""
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if t.dtype.kind != "f":
        return t
    from .elementwise import where

    xp = t.xp
    fixed = xp.nan_to_num(t.data, nan=nan, posinf=posinf, neginf=neginf)
    return where(Tensor(xp.isfinite(t.data)), t, Tensor(fixed))


# ----------------------------------------------------------------------------- binary
class _Binary2(Function):
    """z = f(a, b) with partial derivatives (da, db)(xp, a, b, z), broadcasting."""

    def __init__(self, f, da, db):
        self.f, self.da, self.db = f, da, db

    def forward(self, a, b):
        xp = get_xp(a, b)
        self.xp, self.shapes = xp, (a.shape, b.shape)
        z = self.f(xp, a, b)
        if True in self.needs_input_grad:
            self.a, self.b, self.z = a, b, z
        return z

    def backward(self, gz):
        xp, (sa, sb) = self.xp, self.shapes
        ga = sum_to(xp, gz * self.da(xp, self.a, self.b, self.z), sa) if self.needs_input_grad[0] else None
        gb = sum_to(xp, gz * self.db(xp, self.a, self.b, self.z), sb) if self.needs_input_grad[1] else None
        return ga, gb


def _logaddexp_grads(xp, a, b, z):
    return xp.exp(a - z)


_BINARY = {
    "arctan2": (lambda xp, a, b: xp.arctan2(a, b), lambda xp, a, b, z: b / (a * a + b * b),
                lambda xp, a, b, z: -a / (a * a + b * b)),
    "hypot": (lambda xp, a, b: xp.hypot(a, b), lambda xp, a, b, z: a / z, lambda xp, a, b, z: b / z),
    "logaddexp": (lambda xp, a, b: xp.logaddexp(a, b), lambda xp, a, b, z: xp.exp(a - z),
                  lambda xp, a, b, z: xp.exp(b - z)),
    "logaddexp2": (lambda xp, a, b: xp.logaddexp2(a, b), lambda xp, a, b, z: xp.exp2(a - z),
                   lambda xp, a, b, z: xp.exp2(b - z)),
    "mod": (lambda xp, a, b: xp.mod(a, b), lambda xp, a, b, z: xp.ones_like(z),
            lambda xp, a, b, z: -xp.floor_divide(a, b)),
    "fmod": (lambda xp, a, b: xp.fmod(a, b), lambda xp, a, b, z: xp.ones_like(z),
             lambda xp, a, b, z: -xp.trunc(a / b)),
    "fmax": (lambda xp, a, b: xp.fmax(a, b), lambda xp, a, b, z: ((a >= b) | xp.isnan(b)).astype(z.dtype),
             lambda xp, a, b, z: ~((a >= b) | xp.isnan(b)) * z.dtype.type(1)),
    "fmin": (lambda xp, a, b: xp.fmin(a, b), lambda xp, a, b, z: ((a <= b) | xp.isnan(b)).astype(z.dtype),
             lambda xp, a, b, z: ~((a <= b) | xp.isnan(b)) * z.dtype.type(1)),
    "copysign": (lambda xp, a, b: xp.copysign(a, b), lambda xp, a, b, z: xp.sign(a) * xp.sign(z),
                 lambda xp, a, b, z: xp.zeros_like(z)),
}


def _binary(name, int_fn=None):
    f, da, db = _BINARY[name]

    def op(x1, x2):
        if int_fn is not None:
            d1 = x1.data if isinstance(x1, Tensor) else np.asarray(x1)
            d2 = x2.data if isinstance(x2, Tensor) else np.asarray(x2)
            if d1.dtype.kind in "biu" and d2.dtype.kind in "biu":
                return Tensor(int_fn(get_xp(d1, d2), d1, d2))
        a, b = floats(name, x1, x2)
        broadcast_shape(name, a.shape, b.shape)
        return _Binary2(f, da, db).apply(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` elementwise with broadcasting (Keras ``ops.{name}``)."
    return op


arctan2, hypot, logaddexp, logaddexp2 = _binary("arctan2"), _binary("hypot"), _binary("logaddexp"), _binary("logaddexp2")
mod = _binary("mod", int_fn=lambda xp, a, b: xp.mod(a, b))
fmod = _binary("fmod", int_fn=lambda xp, a, b: xp.fmod(a, b))
fmax = _binary("fmax", int_fn=lambda xp, a, b: xp.fmax(a, b))
fmin = _binary("fmin", int_fn=lambda xp, a, b: xp.fmin(a, b))
copysign = _binary("copysign")


def _plain(x):
    d = x.data if isinstance(x, Tensor) else x
    return d if backend.is_array(d) else np.asarray(d)


def floor_divide(x1, x2):
    """Floor division elementwise (Keras ``ops.floor_divide``); no gradient."""
    a, b = _plain(x1), _plain(x2)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = [t.data for t in floats("floor_divide", x1, x2)]
    return Tensor(get_xp(a, b).floor_divide(a, b))


def _data2(op, x1, x2):
    """Two operands as arrays for ops without gradient, a Python scalar taking the other's dtype."""
    if isinstance(x1, Tensor) or isinstance(x2, Tensor) or backend.is_array(x1) or backend.is_array(x2):
        a, b = _plain(x1), _plain(x2)
        if a.ndim == 0 and not isinstance(x1, (Tensor, np.ndarray)) and b.dtype.kind in "fiu":
            a = a.astype(b.dtype) if a.dtype.kind in "fiub" and (b.dtype.kind == "f" or a.dtype.kind != "f") else a
        if b.ndim == 0 and not isinstance(x2, (Tensor, np.ndarray)) and a.dtype.kind in "fiu":
            b = b.astype(a.dtype) if b.dtype.kind in "fiub" and (a.dtype.kind == "f" or b.dtype.kind != "f") else b
        return a, b
    return np.asarray(x1), np.asarray(x2)


def ldexp(x1, x2):
    """x1 * 2 ** x2 (Keras ``ops.ldexp``); differentiable in x1."""
    from .elementwise import mul

    t = to_float("ldexp", x1)
    e = _plain(x2)
    return mul(t, Tensor(get_xp(e).exp2(e.astype(t.dtype))))


def nextafter(x1, x2):
    a, b = _data2("nextafter", x1, x2)
    return Tensor(get_xp(a, b).nextafter(a, b))


def heaviside(x1, x2):
    a, b = _data2("heaviside", x1, x2)
    xp = get_xp(a, b)
    if a.dtype.kind != "f":
        a = a.astype(backend.floatx())
    return Tensor(xp.heaviside(a, b.astype(a.dtype)))


def gcd(x1, x2):
    a, b = _data2("gcd", x1, x2)
    return Tensor(get_xp(a, b).gcd(a, b))


def lcm(x1, x2):
    a, b = _data2("lcm", x1, x2)
    return Tensor(get_xp(a, b).lcm(a, b))


def i0(x):
    """The modified Bessel function of order 0 (Keras ``ops.i0``); no gradient."""
    t = to_float("i0", x)
    return Tensor(np.i0(backend.to_numpy(t.data)).astype(t.dtype))


def divide_no_nan(x1, x2):
    """x1 / x2, 0 where x2 == 0 (Keras ``ops.divide_no_nan``); differentiable."""
    from .elementwise import div, where

    a, b = floats("divide_no_nan", x1, x2)
    zero = Tensor(b.data == 0)
    safe = where(zero, Tensor(np.ones((), b.dtype)), b)
    return where(zero, Tensor(np.zeros((), a.dtype)), div(a, safe))
