"""Every registered zoo model, as timm's test_models.py does it: it builds from the registry, runs a
forward pass on a small input, survives a ``.keras`` save/load round trip with the same outputs, and
exports to ONNX with onnxruntime equal to ``predict``. Each case is a small configuration of the
architecture (small inputs, few classes); the ones that stay heavy at any size are marked slow.
A model registered without a case here fails ``test_every_registered_model_has_a_case``."""
import numpy as np
import pytest

import zoo
from core.models import load_model
from zoo.registry import get_entry, list_models

SMALL_BERT = dict(vocab_size=64, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                  max_position_embeddings=16)
IMAGE = {"input_shape": (32, 32, 3), "num_classes": 5}

# name -> (create_model kwargs, heavy at every size)
CASES = {
    "bert": (dict(SMALL_BERT, num_classes=3), False),
    "minilm_l6": (dict(vocab_size=64, num_classes=3), True),
    "lstm_classifier": (dict(vocab_size=50, embed_dim=8, units=(6,), num_classes=3), False),
    "ts_transformer": (dict(input_length=16, num_features=2, horizon=4, patch_len=4, d_model=8, num_heads=2,
                            num_layers=1, ff_dim=16), False),
    **{f"resnet{d}": (dict(IMAGE), d > 20) for d in (20, 32, 44, 56, 110)},
    **{f"resnet{d}": (dict(IMAGE), True) for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}{bn}": (dict(IMAGE), True) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    # keras.applications backbones (tests/test_zoo_backbones.py has their Keras parity)
    **{name: (dict(IMAGE), name not in ("mobilenet_025", "mobilenet_v2_035", "mobilenet_v3_small_minimalistic"))
       for name in ("mobilenet", "mobilenet_025", "mobilenet_050", "mobilenet_075", "mobilenet_v2", "mobilenet_v2_035",
                    "mobilenet_v2_050", "mobilenet_v2_075", "mobilenet_v2_130", "mobilenet_v2_140",
                    "mobilenet_v3_small", "mobilenet_v3_small_075", "mobilenet_v3_small_minimalistic",
                    "mobilenet_v3_large", "mobilenet_v3_large_075", "mobilenet_v3_large_minimalistic",
                    "densenet121", "densenet169", "densenet201", *(f"efficientnet_b{i}" for i in range(8)))},
    # (the smallest inputs Keras allows; these run in tests/test_zoo_backbones.py instead: IN_BACKBONES)
    **{name: (dict(IMAGE), True) for name in ("resnet50_v2", "resnet101_v2", "resnet152_v2", "nasnet_mobile",
                                              "nasnet_large")},
    "xception": (dict(IMAGE, input_shape=(71, 71, 3)), True),
    **{name: (dict(IMAGE, input_shape=(75, 75, 3)), True) for name in ("inception_v3", "inception_resnet_v2")},
    "efficientnet_v2_b0": (dict(IMAGE), True),
    "convnext_tiny": (dict(IMAGE), True),
}
# variants whose builder is a sibling's with other widths/depths only: their Keras parameter counts
# are checked in test_zoo_backbones.py (built at full size); a round trip of 50-350M parameters here
# would add minutes and prove nothing the sibling's does not
COVERED_BY = {
    **{f"efficientnet_v2_{v}": "efficientnet_v2_b0" for v in ("b1", "b2", "b3", "s", "m", "l")},
    **{f"convnext_{v}": "convnext_tiny" for v in ("small", "base", "large", "xlarge")},
}
# checked in tests/test_zoo_backbones.py instead, one model per family on Keras-recipe weights (Keras
# parity and ONNX export; every variant built for its parameter count): large models, kept out of a
# second build/forward/save here for the suite's time. Their layers are core's (round-tripped by the
# core tests) and CustomScaleLayer (round-tripped in test_zoo_backbones.py).
IN_BACKBONES = {"resnet50_v2", "resnet101_v2", "resnet152_v2", "xception", "inception_v3", "inception_resnet_v2",
                "nasnet_mobile", "nasnet_large"}


def _zoo_models():
    """The models the zoo package registers itself (tests register tiny ones of their own)."""
    return [n for n in list_models() if get_entry(n).builder.__module__.startswith("zoo.")]


def _params():
    covered = [pytest.param(name, marks=pytest.mark.skip(reason=f"the {sibling} builder with other widths/depths: "
                                                                 "tested through it; its Keras parameter count in "
                                                                 "test_zoo_backbones.py"))
               for name, sibling in sorted(COVERED_BY.items())]
    return [pytest.param(name, marks=pytest.mark.slow) if heavy else name
            for name, (_, heavy) in sorted(CASES.items()) if name not in IN_BACKBONES] + covered


def _inputs(model, rng, n=2):
    """Random inputs for every model input: images/series as floats, token ids right-padded with 0."""
    feeds = []
    for t in model.inputs:
        shape = (n,) + tuple(t.shape[1:])
        name = t.name.split(":")[0]
        if np.dtype(t.dtype).kind in "iu":
            length = shape[1] if shape[1] is not None else 8
            if "mask" in name:
                feeds.append((np.arange(length)[None] < np.array([length, length // 2])[:n, None]).astype(t.dtype))
            elif "type" in name:
                feeds.append(np.zeros((n, length), t.dtype))
            else:
                ids = rng.integers(1, 40, size=(n, length))
                ids[1, length // 2:] = 0
                feeds.append(ids.astype(t.dtype))
        else:
            feeds.append(rng.normal(size=tuple(8 if d is None else d for d in shape)).astype(np.float32))
    return feeds


def _predict(model, feeds):
    out = model.predict(feeds if len(feeds) > 1 else feeds[0], verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.fixture(scope="module", params=_params())
def built(request):
    """(name, model) of one case, built once for all the tests of that case: pytest runs the tests
    of one parameter of a module-scoped fixture together, then drops the model."""
    kwargs, _ = CASES[request.param]
    return request.param, zoo.create_model(request.param, **kwargs)


def test_every_registered_model_has_a_case():
    assert sorted(_zoo_models()) == sorted({**CASES, **COVERED_BY}), "add a small case for each new model to CASES"
    assert all(sibling in CASES for sibling in COVERED_BY.values())


def test_build_forward_and_keras_round_trip(built, tmp_path):
    name, model = built
    feeds = _inputs(model, np.random.default_rng(0))
    outs = _predict(model, feeds)
    for o in outs:
        assert o.shape[0] == len(feeds[0]) and o.dtype == np.float32 and np.isfinite(o).all()
    if "num_classes" in CASES[name][0]:
        assert outs[0].shape[-1] == CASES[name][0]["num_classes"]
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras", compile=False)
    assert type(back) is type(model)
    assert back.get_config() == model.get_config()
    assert [w.shape for w in back.weights] == [w.shape for w in model.weights]
    for a, b in zip(_predict(back, feeds), outs):
        np.testing.assert_array_equal(a, b)


def test_onnx_export_matches_predict(built, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.onnx_helpers import assert_onnx_matches

    _, model = built
    assert_onnx_matches(model, _inputs(model, np.random.default_rng(1)), tmp_path / "m.onnx", load_proto=False)
