"""Run folders and model files: which app wrote a model file (from its asset names, without
building the model), and the one-line error naming the command that reads it."""
import click
import numpy as np
import pytest

from apps.model_files import app_of, check_output_dir, require_app, resolve_model_file
from core import layers as L
from core.models import Sequential


def saved(tmp_path, name, **assets):
    m = Sequential([L.Input((3,)), L.Dense(2)])
    m.assets.update(assets)
    (tmp_path / name).mkdir()
    m.save(tmp_path / name / "model.h5")
    return tmp_path / name / "model.h5"


@pytest.mark.parametrize("assets,app,reader", [
    ({"forecast": {"season_length": 12}, "columns": ["y"]}, "forecast", "zoo forecast predict"),
    ({"text_model": "lstm", "vocab": {"tokens": []}}, "text", "zoo text predict"),
    ({"input_spec": {"scale": 1.0}, "labels": ["a", "b"]}, "image", "zoo image predict"),
])
def test_app_of_and_the_error_naming_its_reader(tmp_path, assets, app, reader):
    path = saved(tmp_path, "run", **assets)
    assert app_of(path) == app
    require_app(path, app, "zoo x")  # the right app: no error
    other = "text" if app != "text" else "image"
    with pytest.raises(click.ClickException) as ei:
        require_app(path, other, f"zoo {other} predict")
    msg = ei.value.message
    assert f"is {'an' if app[0] in 'aeiou' else 'a'} {app} model (made by `zoo {app} train`)" in msg
    assert reader in msg and "\n" not in msg


def test_plain_and_foreign_files(tmp_path):
    plain = saved(tmp_path, "plain")
    assert app_of(plain) is None
    require_app(plain, "image", "zoo classify")  # unknown origin: left to the loader
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    assert app_of(junk) is None


def test_resolve_and_output_checks(tmp_path):
    path = saved(tmp_path, "run")
    assert resolve_model_file(tmp_path / "run") == path and resolve_model_file(path) == path
    with pytest.raises(click.ClickException, match="without a model.h5"):
        resolve_model_file(tmp_path)
    with pytest.raises(click.ClickException, match="model file not found"):
        resolve_model_file(tmp_path / "nope.h5")
    assert check_output_dir(tmp_path / "a" / "b").is_dir()
    with pytest.raises(click.ClickException, match="exists and is not a folder"):
        check_output_dir(path)
    assert np.array_equal(list((tmp_path / "a" / "b").iterdir()), [])  # the write probe left nothing
