"""Weight initializers with Keras names and formulas, drawn from ``core.random``."""
from __future__ import annotations

import math

import numpy as np

from .object_registration import export_api
from .random import generator as zrandom
from .serialization_lib import get_object, serialize_keras_object


def compute_fans(shape, input_axes=None, output_axes=None):
    """Keras's fan-in/fan-out: kernels (..., in, out) multiply by the receptive field size; with
    ``input_axes`` and ``output_axes`` (einsum kernels) the products of those axes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = math.prod(shape[:-2])
    return shape[-2] * rf, shape[-1] * rf


class Initializer:
    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("input_axes", "output_axes"):  # Keras 3.15 writes them; only their default is served
            if key in config and config[key] is None:
                del config[key]
            elif key in config:
                raise ValueError(f"{cls.__name__}: {key}={config[key]!r} is not supported (fans are computed "
                                 "from the kernel's last two axes)")
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _gen(self):
        return np.random.default_rng(self.seed) if self.seed is not None else zrandom.get_generator()

    def __call__(self, shape, dtype="float32"):
        with zrandom.lock():
            gen = self._gen()
            return _drawn(shape, dtype, lambda n: gen.normal(self.mean, self.stddev, n))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(RandomNormal):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype="float32"):
        with zrandom.lock():
            gen = self._gen()
            return _drawn(shape, dtype, lambda n: gen.uniform(self.minval, self.maxval, n))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


_CHUNK = 1 << 16  # values drawn at a time (see _drawn)


def _drawn(shape, dtype, draw, redraw_beyond=None):
    """An array of ``shape`` and ``dtype`` from ``draw(n)``, n float64 values of a generator, drawn
    a chunk at a time and cast into the result, so that no float64 array of the whole size is made
    (weights of hundreds of millions of values); the generator's values are consumed in order, so the
    result equals ``draw(size).reshape(shape).astype(dtype)`` exactly.

    ``redraw_beyond=(bound, redraw, finish)``: the truncated normal: wherever ``|z| > bound`` the
    value is re-drawn (``redraw(k)`` for the k such places, in order, after all the first draws,
    until none is left), then ``finish(z)`` is stored; ``draw`` gives the raw z then."""
    out = np.empty(shape, dtype)
    flat = out.reshape(-1)
    n = flat.size
    finish = redraw_beyond[2] if redraw_beyond is not None else None
    beyond = []
    for i in range(0, n, _CHUNK):
        z = draw(min(_CHUNK, n - i))
        if redraw_beyond is not None:
            beyond.append(np.flatnonzero(np.abs(z) > redraw_beyond[0]) + i)
            z = finish(z)
        flat[i:i + len(z)] = z
    if redraw_beyond is not None:
        bound, redraw, _ = redraw_beyond
        todo = np.concatenate(beyond) if beyond else np.zeros(0, np.intp)
        while todo.size:
            z = redraw(todo.size)
            ok = np.abs(z) <= bound
            flat[todo[ok]] = finish(z[ok])
            todo = todo[~ok]
    return out


def _truncated_normal(gen, shape, dtype, stddev, mean=None):
    """``stddev * z`` (``mean + stddev * z`` when a mean is given), z unit normal values re-drawn
    until within two standard deviations (as Keras's truncated_normal), as ``dtype``."""
    if mean is None:
        def finish(z):
            return z * stddev
    else:
        def finish(z):
            return mean + z * stddev
    return _drawn(shape, dtype, lambda k: gen.normal(0.0, 1.0, k),
                  redraw_beyond=(2, lambda k: gen.normal(0.0, 1.0, k), finish))


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype="float32"):
        with zrandom.lock():
            return _truncated_normal(self._gen(), shape, dtype, self.stddev, self.mean)


class VarianceScaling(RandomNormal):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.input_axes = list(input_axes) if input_axes is not None else None
        self.output_axes = list(output_axes) if output_axes is not None else None

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        with zrandom.lock():
            gen = self._gen()
            if self.distribution == "truncated_normal":
                stddev = math.sqrt(scale) / 0.87962566103423978  # std of a unit normal truncated at 2
                return _truncated_normal(gen, shape, dtype, stddev)
            if self.distribution in ("untruncated_normal", "normal"):
                return _drawn(shape, dtype, lambda n: gen.normal(0.0, math.sqrt(scale), n))
            limit = math.sqrt(3.0 * scale)
            return _drawn(shape, dtype, lambda n: gen.uniform(-limit, limit, n))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _vs(name, scale, mode, distribution):
    cls = type(name, (VarianceScaling,), {
        "__init__": lambda self, seed=None, input_axes=None, output_axes=None: VarianceScaling.__init__(
            self, scale, mode, distribution, seed, input_axes, output_axes),
        "get_config": lambda self: {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes},
        "__doc__": f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r}).",
    })
    return cls


GlorotUniform = _vs("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _vs("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _vs("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _vs("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _vs("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _vs("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(RandomNormal):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype="float32"):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        with zrandom.lock():
            a = self._gen().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


class STFT(Initializer):
    """The real (``side="real"``) or imaginary (``"imag"``) part of the DFT basis, windowed, for a
    kernel of shape ``(frame_length, input_channels, fft_length // 2 + 1)``, returned with one channel
    (``(frame_length, 1, bins)``, broadcast by the layer) as Keras's ``STFT`` does (used
    by STFT layers). ``window``: ``"hann"``, ``"hamming"``, ``"boxcar"``, None or an array of
    ``frame_length`` values; ``scaling``: ``"density"`` (divide by the window's L2 norm),
    ``"spectrum"`` (by its sum) or None; ``periodic`` uses the periodic form of the window."""

    _WINDOWS = ("hann", "hamming", "boxcar")

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ValueError(f"side should be 'real' or 'imag', not {side}")
        if isinstance(window, str) and window not in self._WINDOWS:
            raise NotImplementedError(f"STFT: window {window!r} is not supported yet; use one of {self._WINDOWS}, "
                                      "None or an array")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"Scaling is invalid, it must be `None`, 'density' or 'spectrum'. Received scaling={scaling}")
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def _window(self, n):
        if not isinstance(self.window, str):
            win = np.asarray(self.window, dtype=np.float64)
            if win.shape != (n,):
                raise ValueError(f"The shape of `window` must be equal to [frame_length]. Received: window shape="
                                 f"{win.shape}")
            return win
        if self.window == "boxcar":
            return np.ones(n)
        m = n if self.periodic else n - 1
        k = np.arange(n)
        a0 = 0.5 if self.window == "hann" else 0.54
        return a0 - (1 - a0) * np.cos(2 * np.pi * k / m) if m > 0 else np.ones(n)

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 3:
            raise ValueError(f"STFT initializer needs a shape (frame_length, input_channels, fft_bins), got {shape}")
        frame_length, _, fft_length = (int(v) for v in shape)
        dt = np.dtype(dtype)
        freq = np.arange(fft_length, dtype=dt).reshape(1, 1, -1) / dt.type((fft_length - 1) * 2)
        time = np.arange(frame_length, dtype=dt).reshape(-1, 1, 1)
        args = (dt.type(-2) * time) * freq * dt.type(np.pi)
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        if self.window is not None:
            win = self._window(frame_length).astype(dt).reshape(-1, 1, 1)
            scaling = 1
            if self.scaling == "density":
                scaling = np.sqrt(np.sum(np.square(win)))
            elif self.scaling == "spectrum":
                scaling = np.sum(np.abs(win))
            kernel = kernel * win / scaling
        return kernel.astype(dt)  # (frame_length, 1, fft_bins) whatever the channels, as Keras

    def get_config(self):
        window = self.window if isinstance(self.window, (str, type(None))) else np.asarray(self.window).tolist()
        return {"side": self.side, "window": window, "periodic": self.periodic, "scaling": self.scaling}


# Keras's other public names for the same classes
OrthogonalInitializer = Orthogonal
IdentityInitializer = Identity
STFTInitializer = STFT
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal
identity = Identity
stft = STFT

_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "identity": Identity, "uniform": RandomUniform, "normal": RandomNormal,
    "stft": STFT, "OrthogonalInitializer": Orthogonal, "IdentityInitializer": Identity, "STFTInitializer": STFT,
}
_CLASSES = [Initializer] + list(dict.fromkeys(_ALIASES.values()))
export_api("keras.initializers", _CLASSES, aliases=_ALIASES)
_ALIASES.update({c.__name__: c for c in _CLASSES})


def get(identifier) -> Initializer:
    """An initializer from a name ('he_normal', a class name or a registered 'Package>Name'), a
    Keras config dict, an instance or a callable ``fn(shape, dtype)``."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if identifier is None:
        raise ValueError("cannot interpret None as an initializer")
    return get_object(identifier, "keras.initializers", "initializer", module_objects=_ALIASES, base=Initializer)


def deserialize(config, custom_objects=None) -> Initializer:
    """The initializer a ``serialize`` output describes."""
    return get_object(config, "keras.initializers", "initializer", module_objects=_ALIASES, base=Initializer,
                      custom_objects=custom_objects)


def serialize(init) -> dict | str:
    """Keras's config dict (``{"module": "keras.initializers", "class_name", "config", "registered_name"}``)."""
    if isinstance(init, Initializer):
        return serialize_keras_object(init)
    return init
