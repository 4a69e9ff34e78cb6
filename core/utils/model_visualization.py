"""``plot_model`` / ``model_to_dot`` as ``keras.utils`` exposes them (``core.models.visualization``
draws the graph)."""
from __future__ import annotations


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layer graph (``core.models.visualization.plot_model``: ``.dot`` without
    anything installed, ``.png``/``.svg``/``.pdf`` with Graphviz's ``dot`` program)."""
    from ..models.visualization import plot_model as plot   # models sit above utils: imported on use

    return plot(model, to_file=to_file, show_shapes=show_shapes, show_dtype=show_dtype,
                show_layer_names=show_layer_names, rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                show_layer_activations=show_layer_activations, show_trainable=show_trainable, **kwargs)


def model_to_dot(model, **kwargs):
    """The model's layer graph as Graphviz DOT text (``core.models.visualization.model_to_dot``)."""
    from ..models.visualization import model_to_dot as to_dot

    return to_dot(model, **kwargs)
