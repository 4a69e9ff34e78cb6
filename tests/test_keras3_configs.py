"""Keras 3.15.1 configs (``model.to_json()``) of one model per layer class rebuild here without a
warning, take Keras's weights in order and give Keras's inference outputs; and the configs we
write back are in Keras's form (fixtures: make_keras3_layer_configs.py; Keras reading our copies
is checked by check_keras3_interop.py)."""
import json
import os
import warnings

import numpy as np
import pytest

from core.models import model_from_json

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras3")
with open(os.path.join(HERE, "layer_configs.json")) as _f:
    CONFIGS = json.load(_f)
ARRAYS = np.load(os.path.join(HERE, "layer_configs.npz"))


def _arrays(case, prefix):
    out, i = [], 0
    while f"{case}/{prefix}{i}" in ARRAYS:
        out.append(ARRAYS[f"{case}/{prefix}{i}"])
        i += 1
    return out


def rebuild(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = model_from_json(json.dumps(CONFIGS[case]))
    weights = _arrays(case, "w")
    assert len(model.weights) == len(weights), [w.path for w in model.weights]
    model.set_weights(weights)
    return model


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_keras_config_rebuilds_with_keras_outputs(case):
    model = rebuild(case)
    xs = _arrays(case, "x")
    y = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    np.testing.assert_allclose(np.asarray(y), ARRAYS[f"{case}/y"], atol=1e-5, rtol=1e-5)


def _strip(value):
    """A config without the keys that legitimately differ between two writers."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("shared_object_id", "build_config")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@pytest.mark.parametrize("case", ["dense", "conv2d", "lstm", "batch_normalization", "embedding", "concatenate"])
def test_our_config_is_in_keras_form(case):
    ours = json.loads(rebuild(case).to_json())
    theirs = CONFIGS[case]
    assert ours["class_name"] == theirs["class_name"] == "Functional"
    for a, b in zip(ours["config"]["layers"], theirs["config"]["layers"]):
        assert a["class_name"] == b["class_name"] and a["module"] == b["module"]
        assert a["registered_name"] == b["registered_name"]
        # every key we write is one Keras's layer takes
        assert set(a["config"]) <= set(b["config"]) | {"activity_regularizer"}, set(a["config"]) - set(b["config"])
        for key in ("kernel_initializer", "dtype", "kernel_regularizer", "bias_constraint"):
            if isinstance(b["config"].get(key), dict):
                assert _strip(a["config"][key]) == _strip(b["config"][key])
        assert [n["args"] for n in a["inbound_nodes"]] == [n["args"] for n in b["inbound_nodes"]]
