"""core.InputSpec: a layer's declared input rank/shape/dtype/axes, checked on each call (Keras 3)."""
import numpy as np
import pytest

import core as keras
from core import layers as L


class Checked(L.Layer):
    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = spec

    def call(self, x):
        return x


def test_rank_axes_shape_and_dtype_are_checked_eagerly_and_symbolically():
    layer = Checked(keras.InputSpec(ndim=2, axes={-1: 3}), name="chk")
    assert layer(np.ones((4, 3), "float32")).shape == (4, 3)
    assert layer(keras.Input((3,))).shape == (None, 3)
    with pytest.raises(ValueError, match="layer 'chk' is incompatible with the layer: expected ndim=2, found ndim=3"):
        layer(np.ones((1, 4, 3), "float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        layer(keras.Input((5,)))
    shaped = Checked(L.InputSpec(shape=(None, 2, 1), allow_last_axis_squeeze=True))
    assert shaped(np.ones((3, 2), "float32")).shape == (3, 2)
    with pytest.raises(ValueError, match="expected shape=\\(None, 2, 1\\)"):
        shaped(np.ones((3, 4), "float32"))
    typed = Checked(L.InputSpec(dtype="int32", min_ndim=1, max_ndim=2))
    with pytest.raises(ValueError, match="expected dtype=int32, found dtype=float32"):
        typed(np.ones((2,), "float32"))
    with pytest.raises(ValueError, match="expected max_ndim=2"):
        typed(np.ones((1, 1, 1), "int32"))


def test_several_and_named_inputs():
    pair = Checked([L.InputSpec(ndim=2, name="a"), L.InputSpec(ndim=3, name="b")])
    pair({"a": np.ones((1, 2), "float32"), "b": np.ones((1, 2, 2), "float32")})
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        pair({"a": np.ones((1, 2), "float32")})
    with pytest.raises(ValueError, match="expects 2 input\\(s\\), but it received 1"):
        pair(np.ones((1, 2), "float32"))


def test_spec_config_and_errors():
    spec = L.InputSpec(shape=(None, 4), dtype="float32")
    again = L.InputSpec.from_config(spec.get_config())
    assert (again.shape, again.ndim, again.dtype) == ((None, 4), 2, "float32")
    with pytest.raises(ValueError, match="greater than the maximum"):
        L.InputSpec(ndim=2, axes={3: 1})
    with pytest.raises(TypeError, match="integer keys"):
        L.InputSpec(axes={"x": 1})
