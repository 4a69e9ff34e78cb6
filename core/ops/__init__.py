"""Differentiable ops on Tensors, with Keras 3's ``keras.ops`` names and semantics:
``from core import ops; ops.add(x, 1)``, ``ops.one_hot(y, 10)``, ``ops.conv(x, k, padding="same")``.

Each op checks its arguments (errors name the op and the shapes), then runs a ``Function``
whose forward and backward are written against NumPy or CuPy, whichever holds the data. Every
public op also works on symbolic KerasTensors while a Functional model is built: it then records
a graph node of the op's ``Operation`` class (see ``core.ops.operation``). The sub-namespaces
``ops.nn``, ``ops.numpy``, ``ops.linalg`` and ``ops.image`` hold Keras's names of each family;
the PyTorch-style names of the engine (``mul``, ``div``, ``neg``, ``conv2d``, ...) stay as aliases.
"""
import types as _types

from .. import autodiff as _autodiff
from ._util import OpError
from . import keras_tensor as _keras_tensor
from .keras_tensor import KerasTensor, any_symbolic_tensors, is_keras_tensor
from .node import Node
from .operation import Operation, alias_operation as _alias_operation, symbolic_op as _symbolic_op
from . import (arrays as _arrays, contractions as _contractions, control_flow as _control_flow,
               conversion as _conversion, creation as _creation, elementwise as _elementwise,
               image_extras as _image_extras, indexing as _indexing, linear_algebra as _linear_algebra,
               fourier as _fourier, logic as _logic, math as _math, nn_ops as _nn_ops, reductions as _reductions,
               shape as _shape,
               statistics as _statistics)
from .elementwise import to_device
from .shape import flatten
from .linalg import matmul as _matmul
from . import activations as _activations
from .conv import conv1d, conv2d, conv2d_transpose, depthwise_conv2d
from .conv3d import avg_pool3d, conv3d, conv3d_transpose, max_pool3d
from .pooling import (avg_pool1d, avg_pool2d, global_avg_pool1d, global_avg_pool2d, global_max_pool1d,
                      global_max_pool2d, max_pool1d, max_pool2d)
from .recurrent import gru, lstm, simple_rnn
from .attention import scaled_dot_product_attention
from .normalization import batch_norm, layer_norm
from .dropout import dropout
from .embedding import embedding
from .losses import (cosine_similarity, huber, kl_divergence, log_cosh, mean_absolute_error,
                     mean_absolute_percentage_error, mean_squared_error)
from . import image, linalg
from . import reference as _reference

if _reference.ENABLED:  # ZOO_REFERENCE_OPS=1: the plain reference ops everywhere
    _reference.install()

_A, _E, _R, _S = _activations, _elementwise, _reductions, _shape

# ----------------------------------------------------------------------------- the tables
# Keras name -> eager implementation; each becomes a symbolic-aware function of that name.
NUMPY = {
    # arithmetic
    "add": _E.add, "subtract": _E.sub, "multiply": _E.mul, "divide": _E.div, "true_divide": _E.div,
    "power": _E.pow, "negative": _E.neg, "absolute": _E.abs, "abs": _E.abs, "fabs": _E.abs, "square": _E.square,
    "sqrt": _E.sqrt, "exp": _E.exp, "log": _E.log, "maximum": _E.maximum, "minimum": _E.minimum, "clip": _E.clip,
    "floor_divide": _math.floor_divide, "mod": _math.mod, "fmod": _math.fmod, "fmax": _math.fmax,
    "fmin": _math.fmin, "arctan2": _math.arctan2, "hypot": _math.hypot, "logaddexp": _math.logaddexp,
    "logaddexp2": _math.logaddexp2, "ldexp": _math.ldexp, "nextafter": _math.nextafter,
    "heaviside": _math.heaviside, "gcd": _math.gcd, "lcm": _math.lcm, "divide_no_nan": _math.divide_no_nan,
    "copysign": _math.copysign,
    # elementwise math
    "sin": _math.sin, "cos": _math.cos, "tan": _math.tan, "arcsin": _math.arcsin, "arccos": _math.arccos,
    "arctan": _math.arctan, "sinh": _math.sinh, "cosh": _math.cosh, "tanh": _A.tanh, "arcsinh": _math.arcsinh,
    "arccosh": _math.arccosh, "arctanh": _math.arctanh, "log1p": _math.log1p, "expm1": _math.expm1,
    "log2": _math.log2, "log10": _math.log10, "exp2": _math.exp2, "cbrt": _math.cbrt,
    "reciprocal": _math.reciprocal, "deg2rad": _math.deg2rad, "rad2deg": _math.rad2deg, "sinc": _math.sinc,
    "i0": _math.i0, "floor": _math.floor, "ceil": _math.ceil, "trunc": _math.trunc, "round": _math.round,
    "sign": _math.sign, "signbit": _math.signbit, "nan_to_num": _math.nan_to_num,
    # comparisons and logic
    "equal": _logic.equal, "not_equal": _logic.not_equal, "less": _logic.less, "less_equal": _logic.less_equal,
    "greater": _logic.greater, "greater_equal": _logic.greater_equal, "logical_and": _logic.logical_and,
    "logical_or": _logic.logical_or, "logical_xor": _logic.logical_xor, "logical_not": _logic.logical_not,
    "bitwise_and": _logic.bitwise_and, "bitwise_or": _logic.bitwise_or, "bitwise_xor": _logic.bitwise_xor,
    "bitwise_not": _logic.bitwise_not, "bitwise_invert": _logic.bitwise_invert,
    "bitwise_left_shift": _logic.bitwise_left_shift, "bitwise_right_shift": _logic.bitwise_right_shift,
    "left_shift": _logic.left_shift, "right_shift": _logic.right_shift, "isnan": _logic.isnan,
    "isinf": _logic.isinf, "isfinite": _logic.isfinite, "isneginf": _logic.isneginf, "isposinf": _logic.isposinf,
    "isreal": _logic.isreal, "isclose": _logic.isclose, "allclose": _logic.allclose, "isin": _logic.isin,
    # creation
    "arange": _creation.arange, "linspace": _creation.linspace, "logspace": _creation.logspace,
    "geomspace": _creation.geomspace, "eye": _creation.eye, "identity": _creation.identity, "tri": _creation.tri,
    "full": _creation.full, "full_like": _creation.full_like, "ones": _creation.ones, "zeros": _creation.zeros,
    "ones_like": _creation.ones_like, "zeros_like": _creation.zeros_like, "empty": _creation.empty,
    "empty_like": _creation.empty_like, "array": _creation.array, "meshgrid": _creation.meshgrid,
    "bartlett": _creation.bartlett, "blackman": _creation.blackman, "hamming": _creation.hamming,
    "hanning": _creation.hanning, "kaiser": _creation.kaiser,
    # reductions and statistics
    "sum": _R.sum, "mean": _R.mean, "max": _statistics.max, "min": _statistics.min, "amax": _statistics.amax,
    "amin": _statistics.amin, "prod": _statistics.prod, "std": _statistics.std, "var": _R.var,
    "argmax": _R.argmax, "argmin": _R.argmin, "any": _statistics.any, "all": _statistics.all,
    "count_nonzero": _statistics.count_nonzero, "cumsum": _statistics.cumsum, "cumprod": _statistics.cumprod,
    "median": _statistics.median, "quantile": _statistics.quantile, "percentile": _statistics.percentile,
    "ptp": _statistics.ptp, "average": _statistics.average, "corrcoef": _statistics.corrcoef,
    "histogram": _statistics.histogram, "nansum": _statistics.nansum, "nanmean": _statistics.nanmean,
    "nanvar": _statistics.nanvar, "nanstd": _statistics.nanstd, "nanmax": _statistics.nanmax,
    "nanmin": _statistics.nanmin, "nanprod": _statistics.nanprod, "nancumsum": _statistics.nancumsum,
    "nancumprod": _statistics.nancumprod, "nanargmax": _statistics.nanargmax,
    "nanargmin": _statistics.nanargmin, "nanmedian": _statistics.nanmedian,
    "nanquantile": _statistics.nanquantile, "nanpercentile": _statistics.nanpercentile,
    "sort": _statistics.sort, "argsort": _statistics.argsort, "argpartition": _statistics.argpartition,
    # shape and indexing
    "reshape": _S.reshape, "transpose": _S.transpose, "swapaxes": _S.swapaxes, "expand_dims": _S.expand_dims,
    "squeeze": _S.squeeze, "broadcast_to": _S.broadcast_to, "concatenate": _S.concatenate, "stack": _S.stack,
    "split": _S.split, "pad": _S.pad, "repeat": _S.repeat, "tile": _S.tile, "get_item": _S.getitem,
    "moveaxis": _arrays.moveaxis, "roll": _arrays.roll, "flip": _arrays.flip, "fliplr": _arrays.fliplr,
    "flipud": _arrays.flipud, "rot90": _arrays.rot90, "ravel": _arrays.ravel, "copy": _arrays.copy,
    "append": _arrays.append, "diff": _arrays.diff, "tril": _arrays.tril, "triu": _arrays.triu,
    "diag": _arrays.diag, "diagflat": _arrays.diagflat, "diagonal": _arrays.diagonal, "trace": _arrays.trace,
    "hstack": _arrays.hstack, "vstack": _arrays.vstack, "dstack": _arrays.dstack, "column_stack": _arrays.column_stack,
    "array_split": _arrays.array_split, "hsplit": _arrays.hsplit, "vsplit": _arrays.vsplit,
    "dsplit": _arrays.dsplit, "vander": _arrays.vander, "trapezoid": _arrays.trapezoid, "view": _arrays.view,
    "real": _arrays.real, "imag": _arrays.imag, "conj": _arrays.conj, "conjugate": _arrays.conj,
    "angle": _arrays.angle,
    "take": _indexing.take, "take_along_axis": _indexing.take_along_axis, "where": _indexing.where,
    "select": _indexing.select, "nonzero": _indexing.nonzero, "searchsorted": _indexing.searchsorted,
    "digitize": _indexing.digitize, "bincount": _indexing.bincount, "unique": _indexing.unique,
    "unravel_index": _indexing.unravel_index,
    # products
    "matmul": _matmul, "einsum": _contractions.einsum, "tensordot": _contractions.tensordot,
    "dot": _contractions.dot, "inner": _contractions.inner, "outer": _contractions.outer,
    "vdot": _contractions.vdot, "kron": _contractions.kron, "cross": _contractions.cross,
    "correlate": _contractions.correlate,
    "slogdet": _linear_algebra.slogdet,
}

NN = {
    "relu": _A.relu, "relu6": _A.relu6, "sigmoid": _A.sigmoid, "tanh": _A.tanh, "softplus": _A.softplus,
    "softsign": _nn_ops.softsign, "silu": _A.silu, "swish": _A.swish, "log_sigmoid": _nn_ops.log_sigmoid,
    "leaky_relu": _A.leaky_relu, "hard_sigmoid": _A.hard_sigmoid, "hard_silu": _nn_ops.hard_silu,
    "hard_swish": _nn_ops.hard_silu, "elu": _A.elu, "selu": _A.selu, "gelu": _A.gelu, "celu": _nn_ops.celu,
    "glu": _nn_ops.glu, "hard_tanh": _nn_ops.hard_tanh, "hard_shrink": _nn_ops.hard_shrink,
    "soft_shrink": _nn_ops.soft_shrink, "tanh_shrink": _nn_ops.tanh_shrink, "squareplus": _nn_ops.squareplus,
    "sparse_plus": _nn_ops.sparse_plus, "sparse_sigmoid": _nn_ops.sparse_sigmoid, "threshold": _nn_ops.threshold,
    "sparsemax": _nn_ops.sparsemax, "softmax": _A.softmax, "log_softmax": _A.log_softmax,
    "conv": _nn_ops.conv, "conv_transpose": _nn_ops.conv_transpose, "depthwise_conv": _nn_ops.depthwise_conv,
    "separable_conv": _nn_ops.separable_conv, "max_pool": _nn_ops.max_pool, "average_pool": _nn_ops.average_pool,
    "dot_product_attention": _nn_ops.dot_product_attention, "one_hot": _indexing.one_hot,
    "multi_hot": _indexing.multi_hot, "moments": _nn_ops.moments,
    "batch_normalization": _nn_ops.batch_normalization, "layer_normalization": _nn_ops.layer_normalization,
    "rms_normalization": _nn_ops.rms_normalization, "normalize": _nn_ops.normalize, "psnr": _nn_ops.psnr,
    "binary_crossentropy": _nn_ops.binary_crossentropy,
    "categorical_crossentropy": _nn_ops.categorical_crossentropy,
    "sparse_categorical_crossentropy": _nn_ops.sparse_categorical_crossentropy,
    "ctc_loss": _nn_ops.ctc_loss, "polar": _nn_ops.polar, "depth_to_space": _nn_ops.depth_to_space,
    "space_to_depth": _nn_ops.space_to_depth, "adaptive_average_pool": _nn_ops.adaptive_average_pool,
    "adaptive_max_pool": _nn_ops.adaptive_max_pool, "unfold": _nn_ops.unfold, "fold": _nn_ops.fold,
    "ctc_decode": _nn_ops.ctc_decode,
}

LINALG = {
    "inv": _linear_algebra.inv, "det": _linear_algebra.det, "solve": _linear_algebra.solve,
    "matrix_power": _linear_algebra.matrix_power,
    "solve_triangular": _linear_algebra.solve_triangular, "cholesky": _linear_algebra.cholesky,
    "cholesky_inverse": _linear_algebra.cholesky_inverse, "eigh": _linear_algebra.eigh, "eig": _linear_algebra.eig,
    "qr": _linear_algebra.qr, "svd": _linear_algebra.svd, "lstsq": _linear_algebra.lstsq,
    "pinv": _linear_algebra.pinv, "matrix_rank": _linear_algebra.matrix_rank, "norm": _linear_algebra.norm,
    "lu_factor": _linear_algebra.lu_factor, "jvp": _linear_algebra.jvp,
}

IMAGE = {
    "resize": image.resize, "affine_transform": image.affine_transform, "pad_images": _image_extras.pad_images,
    "crop_images": _image_extras.crop_images, "extract_patches": _image_extras.extract_patches,
    "rgb_to_grayscale": _image_extras.rgb_to_grayscale, "rgb_to_hsv": _image_extras.rgb_to_hsv,
    "hsv_to_rgb": _image_extras.hsv_to_rgb, "gaussian_blur": _image_extras.gaussian_blur,
    "sobel_edges": _image_extras.sobel_edges, "ssim": _image_extras.ssim,
    "map_coordinates": _image_extras.map_coordinates, "perspective_transform": _image_extras.perspective_transform,
}

MATH = {  # keras.ops.<name> from Keras's ops.math module
    "erf": _math.erf, "erfinv": _math.erfinv, "erfc": _math.erfc, "rsqrt": _math.rsqrt,
    "logsumexp": _statistics.logsumexp, "logdet": _linear_algebra.logdet, "top_k": _statistics.top_k,
    "in_top_k": _statistics.in_top_k, "segment_sum": _indexing.segment_sum, "segment_max": _indexing.segment_max,
    "segment_min": _indexing.segment_min, "segment_prod": _indexing.segment_prod,
    "extract_sequences": _arrays.extract_sequences, "cdist": _contractions.cdist, "fft": _fourier.fft,
    "fft2": _fourier.fft2, "ifft2": _fourier.ifft2, "rfft": _fourier.rfft, "irfft": _fourier.irfft,
    "stft": _fourier.stft, "istft": _fourier.istft,
}

CORE = {  # keras.ops.<name> from Keras's ops.core module (symbolic-aware ones)
    "cast": _E.cast, "saturate_cast": _conversion.saturate_cast, "slice": _indexing.slice,
    "slice_update": _indexing.slice_update, "scatter": _indexing.scatter, "rearrange": _arrays.rearrange,
    "scatter_update": _indexing.scatter_update, "unstack": _arrays.unstack,
}

EAGER = {  # functions of Python callables or of static properties: not graph nodes
    "shape": _conversion.shape, "ndim": _conversion.ndim, "size": _conversion.size, "dtype": _conversion.dtype,
    "is_tensor": _conversion.is_tensor, "convert_to_tensor": _conversion.convert_to_tensor,
    "convert_to_numpy": _conversion.convert_to_numpy, "stop_gradient": _control_flow.stop_gradient,
    "cond": _control_flow.cond, "switch": _control_flow.switch, "while_loop": _control_flow.while_loop,
    "fori_loop": _control_flow.fori_loop, "scan": _control_flow.scan,
    "associative_scan": _control_flow.associative_scan, "map": _control_flow.map,
    "vectorized_map": _control_flow.vectorized_map, "custom_gradient": _control_flow.custom_gradient,
    "vectorize": _control_flow.vectorize,
}

NOT_SUPPORTED = {
    # name: why (raised as NotImplementedError("keras.ops.<name> is not supported yet: <why>"))
    "view_as_complex": "complex tensors are not part of this engine",
    "view_as_real": "complex tensors are not part of this engine",
    "elastic_transform": "not implemented yet",
    "scale_and_translate": "not implemented yet",
    "extract_patches_3d": "3-D volumes are not supported",
}


def _not_supported(name, why):
    def op(*args, **kwargs):
        raise NotImplementedError(f"keras.ops.{name} is not supported yet: {why}")

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Not supported yet: {why}."
    return op


# ----------------------------------------------------------------------------- building the namespaces
# Keras's Operation class names where they are not the CamelCase function name
KERAS_CLASS_NAMES = {
    "abs": "Absolute", "allclose": "AllClose", "isin": "IsIn", "searchsorted": "SearchSorted",
    "batch_normalization": "BatchNorm", "ctc_loss": "CTCLoss", "psnr": "PSNR", "rms_normalization": "RMSNorm",
    "layer_normalization": "LayerNorm", "cdist": "CDist", "svd": "SVD", "rgb_to_grayscale": "RGBToGrayscale",
    "rgb_to_hsv": "RGBToHSV", "hsv_to_rgb": "HSVToRGB", "swish": "Silu", "hard_swish": "HardSilu",
}
_wrapped: dict = {}


def _keras_op(name, fn, family):
    """The symbolic-aware form of ``fn`` (one per implementation: aliases share it), its Operation
    named as Keras names it (``keras.src.ops.<family>.<ClassName>``); an alias's own Keras class
    name (``Fabs``, ``TrueDivide``) resolves to it in configs."""
    cname = KERAS_CLASS_NAMES.get(name) or "".join(p[:1].upper() + p[1:] for p in name.split("_"))
    module = f"keras.src.ops.{family}"
    w = _wrapped.get(id(fn))
    if w is None:
        w = _symbolic_op(fn, class_name=cname, module=module)
        _wrapped[id(fn)] = w
    else:
        _alias_operation(cname, w, module)
    return w


def _namespace(name, table):
    mod = _types.ModuleType(f"{__name__}.{name}", f"Keras's ``keras.ops.{name}`` names.")
    for k, fn in table.items():
        setattr(mod, k, EAGER.get(k) or _keras_op(k, fn, name))
    return mod


for _table, _family in ((NUMPY, "numpy"), (NN, "nn"), (MATH, "math"), (CORE, "core")):
    for _name, _fn in _table.items():
        globals()[_name] = _keras_op(_name, _fn, _family)
for _name, _fn in EAGER.items():
    globals()[_name] = _fn
for _name, _why in NOT_SUPPORTED.items():
    if _name not in globals():
        globals()[_name] = _not_supported(_name, _why)

numpy = _namespace("numpy", NUMPY)
numpy.ndim, numpy.size, numpy.vectorize = _conversion.ndim, _conversion.size, _control_flow.vectorize
nn = _namespace("nn", NN)
for _name in ("extract_patches_3d", "elastic_transform", "scale_and_translate"):
    IMAGE[_name] = globals()[_name]
for _table, _mod, _family in ((LINALG, linalg, "linalg"), (IMAGE, image, "image")):
    for _name, _fn in _table.items():
        eager_only = _name in NOT_SUPPORTED or _name in ("eig", "jvp")
        setattr(_mod, _name, _fn if eager_only else _keras_op(_name, _fn, _family))
for _name in ("eig", "jvp"):
    globals()[_name] = getattr(linalg, _name)
for _name in ("inv", "det", "solve", "solve_triangular", "cholesky", "cholesky_inverse", "eigh", "qr", "svd",
              "lstsq", "pinv", "matrix_rank", "norm", "lu_factor", "matrix_power"):
    globals()[_name] = getattr(linalg, _name)
resize, affine_transform = image.resize, image.affine_transform

# the engine's own names, aliases of the Keras ones
mul, sub, div, neg, pow, getitem = multiply, subtract, divide, negative, power, get_item  # noqa: F821
linear = _A.linear

# Tensor's operators and methods run the eager implementations (no symbolic check on the hot path)
_autodiff._ops = _types.SimpleNamespace(
    add=_E.add, sub=_E.sub, mul=_E.mul, div=_E.div, pow=_E.pow, matmul=_matmul, neg=_E.neg, abs=_E.abs,
    getitem=_S.getitem, sum=_R.sum, mean=_R.mean, max=_R.max, min=_R.min, reshape=_S.reshape,
    transpose=_S.transpose, cast=_E.cast, to_device=to_device)
_keras_tensor._ops = __import__(__name__, fromlist=["*"])
