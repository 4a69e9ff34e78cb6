"""``standardize_dtype``: a dtype given any way as Keras's dtype name."""
from __future__ import annotations

import numpy as np

from .. import backend

ALLOWED_DTYPES = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
                  "int64", "bfloat16", "bool", "string", "float8_e4m3fn", "float8_e5m2", "complex64", "complex128")
_PYTHON_DTYPES = {bool: "bool", int: "int64", float: "float32", str: "string", "int": "int64",
                  complex: "complex128"}


def standardize_dtype(dtype) -> str:
    """The Keras name of ``dtype`` (a name, a NumPy dtype or type, a Python type); None gives
    ``floatx()``. Python ``int`` is ``"int64"`` (as Keras on TensorFlow and NumPy)."""
    if dtype is None:
        return backend.floatx()
    dtype = _PYTHON_DTYPES.get(dtype, dtype) if isinstance(dtype, (type, str)) else dtype
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype).split(".")[-1]
    if name not in ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return name
