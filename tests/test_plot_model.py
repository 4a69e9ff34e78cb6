"""utils.plot_model / model_to_dot: the layer graph as DOT, rendered by Graphviz when present."""
import shutil

import pytest

from core import layers as L
from core import models
from core.utils import model_to_dot, plot_model


def _functional():
    a, b = L.Input((4,), name="a"), L.Input((3,), name="b")
    h = L.Dense(5, activation="relu", name="d1")(a)
    inner = models.Sequential([L.Input((5,)), L.Dense(3, name="i1"), L.Dense(3, name="i2")], name="inner")
    out = L.Concatenate(name="cat")([inner(h), b])
    return models.Model([a, b], L.Dense(2, name="head")(out), name="net")


def test_dot_has_every_layer_and_edge():
    dot = model_to_dot(_functional(), show_shapes=True, show_layer_activations=True)
    assert dot.startswith('digraph "net" {')
    for text in ['"a (InputLayer)', '"d1 (Dense)\\nactivation: relu', "inner (Sequential)", "cat (Concatenate)",
                 "input: [(None, 3), (None, 3)]", "output: (None, 2)"]:
        assert text in dot, text
    assert dot.count(" -> ") == 5       # a->d1, d1->inner, inner->cat, b->cat, cat->head


def test_expand_nested_draws_the_inner_layers():
    dot = model_to_dot(_functional(), expand_nested=True)
    assert "subgraph cluster_" in dot and "i1 (Dense)" in dot and "i2 (Dense)" in dot
    assert dot.count(" -> ") == 6       # the inner chain i1->i2 too


def test_plot_model_writes_dot_and_explains_missing_graphviz(tmp_path, monkeypatch):
    model = _functional()
    path = plot_model(model, to_file=str(tmp_path / "m.dot"))
    assert open(path).read().startswith("digraph")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match=r"Graphviz's `dot` program.*model\.dot"):
        plot_model(model, to_file=str(tmp_path / "m.png"))
    with pytest.raises(ValueError, match="cannot write"):
        plot_model(model, to_file=str(tmp_path / "m.xyz"))


def test_subclassed_model_is_refused():
    class Net(models.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed model"):
        model_to_dot(Net())


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_plot_model_renders_png(tmp_path):
    path = plot_model(_functional(), to_file=str(tmp_path / "m.png"), show_shapes=True)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
