"""The one object registry (core.object_registration) and the saving API on top of it: custom
objects of every kind round-trip, Keras-written configs rebuild here (fixtures made with Keras 3.15
by tests/fixtures/make_keras_config_fixtures.py), and models save/load/clone."""
import json
import os

import numpy as np
import pytest

import core
from core import activations, constraints, initializers, layers as L, losses, metrics, optimizers, ops
from core import regularizers, schedules
from core import saving
from core.models import Sequential, clone_model, model_from_json
from core.object_registration import get_api_name, objects_in_namespace, register_lazy_module

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


# ------------------------------------------------------------------------------ custom objects
@saving.register_keras_serializable(package="RegTest")
class MyReg(regularizers.Regularizer):
    def __init__(self, strength=0.5):
        self.strength = strength

    def __call__(self, w):
        return ops.sum(ops.abs(w)) * self.strength

    def get_config(self):
        return {"strength": self.strength}


@saving.register_keras_serializable(package="RegTest")
class MyInit(initializers.Initializer):
    def __init__(self, value=0.25):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        return {"value": self.value}


@saving.register_keras_serializable(package="RegTest")
class MyConstraint(constraints.Constraint):
    def __init__(self, cap=0.1):
        self.cap = cap

    def __call__(self, w):
        return np.clip(w, -self.cap, self.cap)

    def get_config(self):
        return {"cap": self.cap}


@saving.register_keras_serializable(package="RegTest")
def cubed(x):
    return x * x * x


@saving.register_keras_serializable(package="RegTest")
class MyLoss(losses.Loss):
    def call(self, y_true, y_pred):
        return ops.mean(ops.abs(y_pred - y_true), axis=-1)


@saving.register_keras_serializable(package="RegTest")
def my_loss_fn(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


@saving.register_keras_serializable(package="RegTest")
class MyMetric(metrics.MeanSquaredError):
    pass


@saving.register_keras_serializable(package="RegTest")
class MyOpt(optimizers.SGD):
    pass


@saving.register_keras_serializable(package="RegTest")
class MySchedule(schedules.LearningRateSchedule):
    def __init__(self, start=1.0):
        self.start = start

    def __call__(self, step):
        return self.start / (1 + step)

    def get_config(self):
        return {"start": self.start}


@saving.register_keras_serializable(package="RegTest")
class Bare(L.Layer):
    """A custom layer whose get_config omits the base keys (name, trainable, dtype), as Keras tolerates."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {"factor": self.factor}


def test_user_regularizer_round_trips_through_get():
    cfg = regularizers.serialize(MyReg(0.3))
    assert cfg == {"module": __name__, "class_name": "MyReg", "config": {"strength": 0.3},
                   "registered_name": "RegTest>MyReg"}
    back = regularizers.get(cfg)
    assert type(back) is MyReg and back.strength == 0.3
    assert type(regularizers.get("RegTest>MyReg")) is MyReg


@pytest.mark.parametrize("kind,obj,check", [
    (initializers, MyInit(0.5), lambda o: o.value == 0.5),
    (constraints, MyConstraint(0.2), lambda o: o.cap == 0.2),
    (regularizers, MyReg(0.7), lambda o: o.strength == 0.7),
    (losses, MyLoss(name="ml"), lambda o: o.name == "ml"),
    (metrics, MyMetric(name="mm"), lambda o: o.name == "mm"),
    (optimizers, MyOpt(learning_rate=0.3), lambda o: abs(o.learning_rate - 0.3) < 1e-7),
    (schedules, MySchedule(2.0), lambda o: o.start == 2.0),
])
def test_custom_class_of_every_kind_round_trips(kind, obj, check):
    cfg = kind.serialize(obj)
    assert cfg["registered_name"] == f"RegTest>{type(obj).__name__}"
    cfg = json.loads(json.dumps(cfg))
    back = kind.deserialize(cfg) if hasattr(kind, "deserialize") else kind.get(cfg)
    assert type(back) is type(obj) and check(back)
    via_generic = saving.deserialize_keras_object(saving.serialize_keras_object(obj))
    assert type(via_generic) is type(obj) and check(via_generic)


def test_custom_activation_and_loss_function_round_trip():
    cfg = activations.serialize(cubed)
    assert cfg["registered_name"] == "RegTest>cubed" and cfg["class_name"] == "function"
    assert activations.get(cfg) is cubed and activations.get("RegTest>cubed") is cubed
    assert activations.serialize(activations.get("relu")) == "relu"
    wrapped = losses.get(my_loss_fn)
    back = losses.deserialize(json.loads(json.dumps(losses.serialize(wrapped))))
    assert back.fn is my_loss_fn


def test_unknown_names_say_what_to_do():
    with pytest.raises(ValueError, match="unknown regularizer 'NoSuch'.*register_keras_serializable"):
        regularizers.get("NoSuch")
    with pytest.raises(TypeError, match="could not locate class 'Ghost'.*custom_objects"):
        saving.deserialize_keras_object({"module": "mine", "class_name": "Ghost", "config": {},
                                         "registered_name": "Mine>Ghost"})
    # a class of a package that is not imported: the error names the package
    with pytest.raises(TypeError, match="import the 'notapkg' package"):
        saving.deserialize_keras_object({"module": "notapkg.layers", "class_name": "Thing", "config": {},
                                         "registered_name": "notapkg>Thing"})


def test_custom_objects_argument_and_scope():
    class Local(regularizers.Regularizer):
        def __init__(self, k=1.0):
            self.k = k

        def __call__(self, w):
            return ops.sum(w) * self.k

        def get_config(self):
            return {"k": self.k}

    cfg = {"module": "x", "class_name": "Local", "config": {"k": 3.0}, "registered_name": "Local"}
    with pytest.raises(TypeError):
        saving.deserialize_keras_object(cfg)
    assert saving.deserialize_keras_object(cfg, custom_objects={"Local": Local}).k == 3.0
    with saving.custom_object_scope({"Local": Local}):
        assert type(regularizers.get(cfg)) is Local
        with saving.CustomObjectScope({"Local": MyReg}):  # the innermost scope wins
            assert saving.get_registered_object("Local") is MyReg
        assert saving.get_registered_object("Local") is Local
    assert saving.get_registered_object("Local") is None


def test_registry_api_names():
    assert saving.get_registered_name(MyReg) == "RegTest>MyReg"
    assert saving.get_registered_name(L.Dense) == "Dense"  # not registered: its own name, as Keras
    assert saving.get_custom_objects()["RegTest>cubed"] is cubed
    assert core.utils.register_keras_serializable is saving.register_keras_serializable
    assert L.register_serializable is core.layers.base.register_serializable
    assert get_api_name(L.Dense) == "keras.layers.Dense" and get_api_name(L.Convolution2D) == "keras.layers.Conv2D"
    assert get_api_name(initializers.HeNormal) == "keras.initializers.HeNormal"
    assert objects_in_namespace("keras.activations")["relu"] is activations.get("relu")
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_lazy_module_loads_on_first_miss(tmp_path, monkeypatch):
    (tmp_path / "lazypkg_registry_test.py").write_text(
        "from core.saving import register_keras_serializable\n"
        "@register_keras_serializable('lazypkg')\n"
        "class Thing:\n"
        "    def __init__(self, a=1): self.a = a\n"
        "    def get_config(self): return {'a': self.a}\n"
        "    @classmethod\n"
        "    def from_config(cls, c): return cls(**c)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register_lazy_module("lazypkg", "lazypkg_registry_test")
    obj = saving.deserialize_keras_object({"module": "lazypkg_registry_test", "class_name": "Thing",
                                           "config": {"a": 5}, "registered_name": "lazypkg>Thing"})
    assert obj.a == 5


# ------------------------------------------------------------------------------ layer configs
def test_layer_config_accepts_keras_dicts():
    fixture = json.load(open(os.path.join(FIXTURES, "keras_configs.json")))
    objs = fixture["objects"]
    dense = saving.deserialize_keras_object(objs["layer"])
    assert isinstance(dense, L.Dense) and dense.units == 3 and dense.name == "dd" and dense.dtype == "float32"
    assert isinstance(dense.kernel_initializer, initializers.GlorotUniform)
    assert type(initializers.get(objs["initializer"])).__name__ == "GlorotUniform"
    reg = regularizers.get(objs["regularizer"])
    assert (reg.l1, reg.l2) == (pytest.approx(0.1), pytest.approx(0.2))
    con = constraints.get(objs["constraint"])
    assert (con.max_value, con.axis) == (3.0, 1)
    assert isinstance(losses.deserialize(objs["loss"]), losses.MeanSquaredError)
    assert metrics.deserialize(objs["metric"]).threshold == pytest.approx(0.3)
    adam = optimizers.deserialize(objs["optimizer"])
    assert isinstance(adam, optimizers.Adam) and adam.learning_rate == pytest.approx(0.01)
    assert schedules.deserialize(objs["schedule"])(10) == pytest.approx(0.05)
    assert activations.get(objs["activation_builtin"]) is activations.get("relu")
    assert saving.deserialize_keras_object(objs["dtype_policy"]).name == "float32"
    layer = L.Dense(2, dtype=objs["dtype_policy"], kernel_regularizer=objs["regularizer"],
                    kernel_constraint=objs["constraint"], kernel_initializer=objs["initializer"])
    assert layer.dtype == "float32" and layer.kernel_regularizer.l2 == pytest.approx(0.2)


def test_mixed_precision_policy_is_refused_clearly():
    with pytest.raises(ValueError, match="mixed_float16.*not supported"):
        L.Dense(2, dtype="mixed_float16")
    with pytest.raises(ValueError, match="not supported"):
        core.DTypePolicy("mixed_bfloat16")
    assert core.DTypePolicy("float32").compute_dtype == "float32"


def _fixture_arrays():
    return dict(np.load(os.path.join(FIXTURES, "keras_configs.npz")))


def _scaled_tanh(x):
    return ops.tanh(x) * 1.5


class _Scale(L.Layer):
    def __init__(self, init=2.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.s = self.add_weight(shape=(), initializer=initializers.Constant(self.init), name="s")

    def call(self, x):
        return x * self.s

    def get_config(self):
        return {"init": self.init}


def test_keras_written_sequential_json_rebuilds_and_matches_keras():
    fixture = json.load(open(os.path.join(FIXTURES, "keras_configs.json")))
    arrays = _fixture_arrays()
    custom = {"Fixture>Scale": _Scale, "Fixture>scaled_tanh": _scaled_tanh}
    model = model_from_json(fixture["sequential_json"], custom_objects=custom)
    assert [l.name for l in model.layers][:2] == ["d1", "d2"] and isinstance(model.layers[2], _Scale)
    d1 = model.layers[0]
    assert d1.kernel_regularizer.l2 == pytest.approx(0.01) and d1.kernel_constraint.max_value == 2.0
    assert model.layers[1].activation is _scaled_tanh
    model.set_weights([arrays[f"seq_w{i}"] for i in range(5)])
    np.testing.assert_allclose(model.predict(arrays["xs"], verbose=0), arrays["seq_out"], rtol=1e-5, atol=1e-6)


def test_keras_written_functional_json_rebuilds_and_matches_keras():
    fixture = json.load(open(os.path.join(FIXTURES, "keras_configs.json")))
    arrays = _fixture_arrays()
    model = model_from_json(fixture["functional_json"])
    assert model.name == "fn" and [l.name for l in model.layers][-1] == "out"
    model.set_weights([arrays[f"fn_w{i}"] for i in range(4)])
    out = model.predict([arrays["xa"], arrays["xb"]], verbose=0)
    np.testing.assert_allclose(out, arrays["fn_out"], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ saving API
def _custom_model():
    model = Sequential([L.Input((3,)),
                        L.Dense(4, activation=cubed, kernel_regularizer=MyReg(0.01), kernel_initializer=MyInit(0.1),
                                kernel_constraint=MyConstraint(1.0)),
                        Bare(3.0, name="bare"), L.Dense(2)])
    model.compile(optimizer=MyOpt(learning_rate=0.01), loss=MyLoss())
    return model


def test_custom_model_round_trips_through_save_and_load_model(tmp_path):
    model = _custom_model()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    y = np.zeros((5, 2), "float32")
    model.fit(x, y, epochs=1, batch_size=5, verbose=0)
    path = tmp_path / "m.h5"
    saving.save_model(model, path)
    loaded = saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    dense, bare = loaded.layers[0], loaded.layers[1]
    assert dense.activation is cubed and type(dense.kernel_regularizer) is MyReg
    assert type(dense.kernel_constraint) is MyConstraint and bare.name == "bare" and bare.factor == 3.0
    assert type(loaded.optimizer) is MyOpt and type(loaded._losses_per_output[0]) is MyLoss
    core.models.save_model(model, tmp_path / "m2.h5")
    assert isinstance(core.models.load_model(tmp_path / "m2.h5"), Sequential)


def test_get_config_from_config_and_json_round_trip():
    model = _custom_model()
    again = Sequential.from_config(model.get_config())
    assert [type(l) for l in again.layers] == [type(l) for l in model.layers]
    assert again.layers[1].name == "bare"
    from_json = model_from_json(model.to_json())
    assert from_json.layers[0].activation is cubed
    assert json.loads(model.to_json())["module"] == "keras" and json.loads(model.to_json())["class_name"] == "Sequential"


def test_save_and_load_weights_functions(tmp_path):
    model = _custom_model()
    saving.save_weights(model, tmp_path / "w.h5")
    other = _custom_model()
    for w in other.weights:
        w.data[...] = 0
    saving.load_weights(other, tmp_path / "w.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lambda_layers_refused_in_safe_mode():
    def double(x):
        return x * 2

    model = Sequential([L.Input((2,)), L.Lambda(double)])
    cfg = model.to_json()
    with pytest.raises(ValueError, match="refusing to load a Lambda"):
        model_from_json(cfg)
    loaded = model_from_json(cfg, custom_objects={"double": double}, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2), "float32"), verbose=0), 2.0)


# ------------------------------------------------------------------------------ clone_model
def _functional():
    a = L.Input((4,), name="a")
    b = L.Input((4,), name="b")
    x = L.Concatenate()([a, b])
    x = L.Dense(3, activation="relu", name="hidden")(x)
    return core.Model([a, b], L.Dense(1, name="out")(x))


def test_clone_model_sequential_and_functional_have_new_weights():
    seq = Sequential([L.Input((3,)), L.Dense(4, name="d"), L.Dense(1)])
    clone = clone_model(seq)
    assert clone is not seq and [l.name for l in clone.layers] == ["d", seq.layers[1].name]
    assert all(a is not b for a, b in zip(clone.weights, seq.weights))
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in seq.get_weights()]
    fn = _functional()
    fc = clone_model(fn)
    xa, xb = np.ones((2, 4), "float32"), np.zeros((2, 4), "float32")
    fc.set_weights(fn.get_weights())
    np.testing.assert_allclose(fc.predict([xa, xb], verbose=0), fn.predict([xa, xb], verbose=0), rtol=1e-6)
    assert all(a is not b for a, b in zip(fc.weights, fn.weights))


def test_clone_model_clone_function_and_input_tensors():
    fn = _functional()

    def widen(layer):
        cfg = layer.get_config()
        if layer.name == "hidden":
            cfg["units"] = 7
        return type(layer).from_config(cfg)

    wide = clone_model(fn, clone_function=widen)
    assert wide.get_layer("hidden").units == 7 if hasattr(wide, "get_layer") else True
    assert [w.shape for w in wide.get_weights()][0] == (8, 7)
    new_a, new_b = L.Input((4,), name="na"), L.Input((4,), name="nb")
    re_in = clone_model(fn, input_tensors=[new_a, new_b])
    assert re_in.predict([np.ones((1, 4), "float32")] * 2, verbose=0).shape == (1, 1)
    seq = Sequential([L.Input((3,)), L.Dense(2)])
    seq2 = clone_model(seq, input_tensors=L.Input((3,)))
    assert seq2.predict(np.ones((1, 3), "float32"), verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="input_tensors"):
        clone_model(fn, input_tensors=[new_a])


def test_layer_shared_with_another_model_clones_and_round_trips():
    """Keras counts a layer's nodes inside the model being saved: a layer first called in another model
    is node 0 here (Keras 3.15.1 writes ["shared", 0, 0] for this model)."""
    shared = L.Dense(4, name="shared")
    a_in = L.Input((3,))
    core.Model(a_in, shared(a_in))
    b_in = L.Input((3,))
    h = shared(b_in)
    b = core.Model(b_in, L.Add(name="add")([L.Dense(4, name="twice")(h), shared(L.Dense(3, name="back")(h))]))
    cfg = b.get_config()

    def refs(v):
        if isinstance(v, dict):
            return [v["config"]["keras_history"]] if v.get("class_name") == "__keras_tensor__" else []
        return [r for x in v for r in refs(x)] if isinstance(v, list) else []

    history = {lc["name"]: refs([n["args"] for n in lc["inbound_nodes"]]) for lc in cfg["layers"]}
    input_name = next(lc["name"] for lc in cfg["layers"] if lc["class_name"] == "InputLayer")
    assert history["shared"] == [[input_name, 0, 0], ["back", 0, 0]]
    assert history["twice"] == [["shared", 0, 0]] and history["add"] == [["twice", 0, 0], ["shared", 1, 0]]
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    for copy in (clone_model(b), model_from_json(b.to_json())):
        copy.set_weights(b.get_weights())
        np.testing.assert_allclose(copy.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)
        assert len(copy.weights) == len(b.weights)   # the shared layer is still one layer, called twice


# ------------------------------------------------------------------------------ import core as keras
def test_import_core_as_keras_names():
    import core as keras

    for name in ("layers", "models", "ops", "losses", "metrics", "optimizers", "callbacks", "utils", "saving",
                 "random", "activations", "initializers", "regularizers", "constraints", "export",
                 "dtype_policies"):
        assert getattr(keras, name).__name__ == f"core.{name}"
    assert keras.Model is core.models.Model and keras.Sequential is core.models.Sequential
    assert keras.Input is L.Input and keras.Layer is L.Layer and keras.KerasTensor is L.KerasTensor
    assert keras.Loss is losses.Loss and keras.Metric is metrics.Metric and keras.Optimizer is optimizers.Optimizer
    assert keras.Variable is core.Parameter and keras.version == core.__version__
    assert keras.Initializer is initializers.Initializer and keras.Regularizer is regularizers.Regularizer
    assert keras.Constraint is constraints.Constraint
    with keras.name_scope("outer"):
        pass
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        keras.Nonexistent


def test_applications_through_the_registry_once_zoo_is_imported():
    import zoo  # noqa: F401  (registers zoo.applications)
    import core as keras
    from zoo.models.resnet import ResNet50

    assert keras.applications.ResNet50 is ResNet50
    assert keras.applications.resnet50.ResNet50 is ResNet50
    from core.applications.imagenet_utils import preprocess_input

    x = np.full((1, 2, 2, 3), [10.0, 20.0, 30.0], "float32")
    out = preprocess_input(x.copy(), mode="caffe")
    np.testing.assert_allclose(out[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)
    np.testing.assert_allclose(keras.applications.vgg16.preprocess_input(x.copy()), out)


def test_custom_metrics_in_compile_config_round_trip(tmp_path):
    model = Sequential([L.Input((3,)), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=[MyMetric(name="mine"), metrics.BinaryAccuracy(threshold=0.3)])
    x = np.ones((4, 3), "float32")
    model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.h5")
    loaded = saving.load_model(tmp_path / "m.h5")
    specs = loaded._metric_specs[0]
    assert type(specs[0]) is MyMetric and specs[0].name == "mine"
    assert specs[1].threshold == pytest.approx(0.3)


def test_applications_found_through_an_entry_point(tmp_path):
    """An installed package declaring the ``core.applications`` entry point serves keras.applications
    without being imported first (a fake distribution on sys.path stands for it)."""
    import subprocess
    import sys

    dist = tmp_path / "fakeapps-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeapps\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[core.applications]\naaa = fakeapps_provider\n")
    (tmp_path / "fakeapps_provider.py").write_text(
        "import types\nSUBMODULES = ('tiny',)\ntiny = types.ModuleType('tiny')\ntiny.Tiny = 'tiny-model'\n"
        "Tiny = tiny.Tiny\n__all__ = ['Tiny', 'tiny']\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, core as keras\nprint(keras.applications.Tiny)\n"
            "from core.applications.tiny import Tiny\nprint(Tiny, 'zoo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([root, str(tmp_path)])})
    assert out.stdout.split() == ["tiny-model", "tiny-model", "False"]


def test_applications_without_a_provider_says_what_to_install(monkeypatch):
    import core.applications as apps

    monkeypatch.setattr(apps, "_provider", None)
    monkeypatch.setattr(apps, "_entry_point_modules", lambda: [])
    monkeypatch.setattr(apps.object_registration, "lazy_module_for", lambda prefix: [])
    with pytest.raises(ImportError, match="keras.applications needs the zoo package"):
        apps.ResNet50


def test_keras_op_names_never_resolve_to_a_layer_of_the_same_name():
    from core.serialization_lib import resolve_class

    try:
        cls = resolve_class("Add", "Add", "keras.src.ops.numpy")
    except TypeError as e:
        assert "keras.src.ops.numpy.Add is not supported" in str(e)
    else:  # once symbolic ops are exported under keras.src.ops.*
        assert cls is not L.Add
    assert resolve_class("Add", None, "keras.layers") is L.Add


def test_unsupported_keras_class_is_named_as_such():
    with pytest.raises(TypeError, match="Keras class keras.layers.MelSpectrogram is not supported by this engine"):
        saving.deserialize_keras_object({"module": "keras.layers", "class_name": "MelSpectrogram", "config": {},
                                         "registered_name": None})


class _Unregistered(L.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="w")

    def call(self, x):
        return ops.matmul(x, self.w)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _square_tanh(x):
    return ops.tanh(x) ** 2


def test_model_from_config_of_a_functional_graph_in_a_custom_object_scope():
    inputs = core.Input((4,))
    out = L.Activation(_square_tanh)(_Unregistered(3)(inputs))
    model = core.Model(inputs, out)
    custom = {"_Unregistered": _Unregistered, "_square_tanh": _square_tanh}
    with core.utils.custom_object_scope(custom):
        again = core.Model.from_config(model.get_config())
        cloned = clone_model(model)
    assert isinstance(again, core.models.Functional) and [type(l) for l in again.layers] == \
        [type(l) for l in model.layers]
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert cloned.layers[-1].activation is _square_tanh
    layer = L.Dense(3, activation="relu")
    assert isinstance(L.deserialize(L.serialize(layer)), L.Dense)


@saving.register_keras_serializable(package="RegTest")
class Composed(core.Model):
    """A subclassed model holding layers given to it (the Keras 3 saving guide's CustomModel)."""

    def __init__(self, first_layer, second_layer=None, **kwargs):
        super().__init__(**kwargs)
        self.first_layer = first_layer
        self.second_layer = second_layer if second_layer is not None else L.Dense(8)

    def get_config(self):
        return {**super().get_config(), "first_layer": saving.serialize_keras_object(self.first_layer),
                "second_layer": saving.serialize_keras_object(self.second_layer)}

    @classmethod
    def from_config(cls, config):
        first = saving.deserialize_keras_object(config.pop("first_layer"))
        second = saving.deserialize_keras_object(config.pop("second_layer"))
        return cls(first, second, **config)

    def call(self, inputs):
        return self.second_layer(self.first_layer(inputs))


def test_subclassed_model_round_trips_with_its_build_config(tmp_path):
    model = Composed(L.Dense(4), name="composed")
    x = np.random.default_rng(1).standard_normal((3, 5)).astype("float32")
    model(x)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((3, 8), "float32"), epochs=1, verbose=0)
    assert model.get_build_config() == {"input_shape": [3, 5]}
    model.save(tmp_path / "c.h5")
    loaded = saving.load_model(tmp_path / "c.h5")
    assert type(loaded) is Composed and loaded.name == "composed"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert Sequential([L.Input((2,)), L.Dense(1)]).get_build_config() is None


def test_applications_decode_predictions_gives_keras_triples(monkeypatch):
    from zoo.applications import imagenet_utils

    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", [(f"n{i:08d}", f"class{i}") for i in range(1000)])
    preds = np.zeros((2, 1000), "float32")
    preds[0, [7, 3]] = [0.6, 0.3]
    preds[1, 999] = 1.0
    out = core.applications.imagenet_utils.decode_predictions(preds, top=2)
    assert out[0] == [("n00000007", "class7", pytest.approx(0.6)), ("n00000003", "class3", pytest.approx(0.3))]
    assert out[1][0][:2] == ("n00000999", "class999")
    with pytest.raises(ValueError, match="\\(samples, 1000\\)"):
        imagenet_utils.decode_predictions(np.zeros((1, 10)))
