"""Moving models between devices and the mixed-device error, on machines without a GPU: a stand-in
"GPU" array type (a NumPy subclass registered as CuPy's ndarray) exercises the bookkeeping; the
real CuPy paths run in the GPU suite (``pytest -m gpu`` on a machine with one)."""
import numpy as np
import pytest

from core import Tensor, backend, ops
from core import layers as L
from core.models import Sequential
from core.optimizers import Adam


class _Dev:
    id = 0


class FakeGpuArray(np.ndarray):
    """A NumPy array that reports itself as living on gpu:0."""

    @property
    def device(self):
        return _Dev()


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return 1


class _DeviceCtx:
    def __init__(self, index):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Cuda:
    runtime = _Runtime
    Device = _DeviceCtx


class FakeCupy:
    ndarray = FakeGpuArray
    cuda = _Cuda

    @staticmethod
    def asarray(a):
        return np.array(a, copy=True).view(FakeGpuArray)

    @staticmethod
    def asnumpy(a):
        return np.array(a.view(np.ndarray), copy=True)

    def __getattr__(self, name):  # array creation used by the optimizer's flat buffers
        fn = getattr(np, name)
        return lambda *a, **k: fn(*a, **k).view(FakeGpuArray)


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", FakeCupy())
    return FakeGpuArray


def small_model():
    m = Sequential([L.Input((4,)), L.Dense(3, activation="relu"), L.BatchNormalization(), L.Dense(2)])
    m.compile(optimizer=Adam(0.01), loss="mse")
    m.fit(np.ones((8, 4), np.float32), np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    return m


def test_mixing_devices_in_one_op_names_both(fake_gpu):
    a = Tensor(np.ones(3, np.float32))
    b = Tensor(FakeCupy.asarray(np.ones(3, np.float32)))
    with pytest.raises(backend.DeviceMismatchError, match=r"inputs on different devices: argument 0 is on cpu, "
                                                          r"argument 1 on gpu:0"):
        ops.mul(a, b)
    with pytest.raises(backend.DeviceMismatchError, match="model.to"):
        backend.check_same_device("matmul", [np.ones(2), FakeCupy.asarray(np.ones(2))])
    backend.check_same_device("add", [np.ones(2), np.ones(2)])  # one device: fine


def test_model_to_moves_weights_bn_statistics_and_optimizer_state(fake_gpu):
    m = small_model()
    before = [w.numpy().copy() for w in m.weights]
    state = [np.array(v) for v in m.optimizer.variables()]
    assert m.to("gpu") is m
    assert all(isinstance(w.data, fake_gpu) for w in m.weights)  # BN moving statistics included
    slots = [v for v in m.optimizer.variables()[2:]]
    assert slots and all(isinstance(v, fake_gpu) for v in slots)
    assert m.optimizer._flat is not None and isinstance(m.optimizer._flat["grad"], fake_gpu)
    m.to("cpu")
    assert all(type(w.data) is np.ndarray for w in m.weights)
    for w, b in zip(m.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)
    for v, s in zip(m.optimizer.variables(), state):
        np.testing.assert_array_equal(np.asarray(v), s)


def test_batches_follow_the_weights_device(fake_gpu):
    m = small_model()
    m.to("gpu")
    x, y = m._on_model_device(np.ones((2, 4), np.float32), {"a": np.zeros(2, np.float32)})
    assert isinstance(x, fake_gpu) and isinstance(y["a"], fake_gpu)


@pytest.mark.skipif(backend.cupy_available(), reason="CuPy is installed here")
def test_to_gpu_without_cupy_is_a_clear_error_and_moves_nothing():
    m = small_model()
    ids = [id(w.data) for w in m.weights]
    with pytest.raises(RuntimeError, match="needs CuPy, which is not installed"):
        m.to("gpu")
    assert [id(w.data) for w in m.weights] == ids
    assert m.to("cpu") is m and [id(w.data) for w in m.weights] == ids
