import numpy as np
import pytest

from core import Tensor, backend
from core.backend import Device, get_device, get_xp


def test_get_xp_is_numpy_for_cpu_arrays():
    assert get_xp(np.zeros(3)) is np
    assert get_xp() is np
    assert get_xp(np.zeros(2), 3.0, None) is np


def test_device_parsing():
    assert get_device("cpu") == Device("cpu")
    assert str(get_device("CPU")) == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_device("tpu")
    with pytest.raises(ValueError, match="gpu:x"):
        get_device("gpu:x")
    with pytest.raises(TypeError):
        get_device(3)


@pytest.mark.skipif(backend.cupy_available(), reason="CuPy is installed here")
def test_gpu_without_cupy_says_cupy_is_missing():
    with pytest.raises(RuntimeError, match="needs CuPy, which is not installed"):
        get_device("gpu")
    with pytest.raises(RuntimeError, match="CuPy"):
        Tensor(np.zeros(2)).to("gpu:0")


def test_gpu_with_cupy_but_no_gpu(monkeypatch):
    class FakeRuntime:
        @staticmethod
        def getDeviceCount():
            raise RuntimeError("cudaErrorNoDevice")

    class FakeCuda:
        runtime = FakeRuntime

    class FakeCupy:
        cuda = FakeCuda

    monkeypatch.setattr(backend, "_cupy", FakeCupy)
    with pytest.raises(RuntimeError, match="CuPy is installed but no CUDA GPU was found"):
        get_device("gpu")


def test_zoo_device_env_var_is_read(monkeypatch):
    monkeypatch.setenv("ZOO_DEVICE", "cpu")
    cfg = backend.Config()
    assert str(cfg.device) == "cpu"
    monkeypatch.setenv("ZOO_DEVICE", "banana")
    cfg = backend.Config()
    with pytest.raises(ValueError, match="banana"):
        cfg.device


def test_to_cpu_is_identity_and_default_dtype():
    t = Tensor([1.0, 2.0])
    assert t.dtype == np.float32
    assert t.to("cpu") is t
    assert t.device == Device("cpu")
    assert backend.floatx() == "float32"


def test_set_floatx_rejects_ints():
    with pytest.raises(ValueError):
        backend.set_floatx("int32")


def test_keras_device_scope_sets_and_restores_the_default_device():
    import core as keras
    from core import backend

    before = backend.config.device
    with keras.device("cpu:0"):
        assert str(backend.config.device) == "cpu"
        assert keras.layers.Dense(2).__class__  # layers build as usual inside the scope
    assert backend.config.device == before
    if backend._cupy is None:
        with pytest.raises(RuntimeError, match="CuPy"):
            with keras.device("gpu:0"):
                pass
        assert backend.config.device == before
