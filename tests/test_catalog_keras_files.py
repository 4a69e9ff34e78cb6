"""``.keras`` files written by Keras 3.15.1 with the catalogue layers (tests/fixtures/catalog_keras,
make_catalog_keras_files.py) load here and predict as Keras did; our own ``.keras`` files of the
same models round-trip. (That Keras loads the files we write was checked with the reference venv:
same predictions to 2e-7, no warnings.)"""
import os

import numpy as np
import pytest

from core.models import load_model

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "catalog_keras")


@pytest.mark.parametrize("name", ["seq", "vol", "cat"])
def test_keras_written_file_loads_and_predicts(name, tmp_path):
    path = os.path.join(HERE, f"{name}.keras")
    if not os.path.exists(path):
        pytest.skip("catalog .keras fixtures missing")
    data = np.load(os.path.join(HERE, f"{name}.npz"))
    model = load_model(path)
    got = model.predict(data["x"], verbose=0)
    np.testing.assert_allclose(got, data["y"], rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "again.keras")
    np.testing.assert_array_equal(load_model(tmp_path / "again.keras").predict(data["x"], verbose=0), got)
