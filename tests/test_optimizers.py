"""Optimizers vs Keras 3.15.1 references (tests/fixtures/models/optimizers.* and
tests/fixtures/optimizers_extra.*, see make_optimizers_extra.py), state round trips, the
learning-rate property, clipping/weight decay/constraints, lookup and argument errors."""
import inspect
import json
import os
import warnings

import numpy as np
import pytest

from core import Parameter, backend, constraints
from core import optimizers as O
from core import schedules as S

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
MAIN = os.path.join(FIX, "models", "optimizers")
EXTRA = os.path.join(FIX, "optimizers_extra")
NEW = os.path.join(FIX, "optimizers_new")
TOL = dict(rtol=1e-6, atol=1e-7)


def _load(base):
    if not (os.path.exists(base + ".json") and os.path.exists(base + ".npz")):
        return None, None
    with open(base + ".json") as f:
        meta = json.load(f)
    with np.load(base + ".npz") as z:
        return meta, {k: z[k] for k in z.files}


MAIN_META, MAIN_ARR = _load(MAIN)
EXTRA_META, EXTRA_ARR = _load(EXTRA)
NEW_META, NEW_ARR = _load(NEW)
needs_main = pytest.mark.skipif(MAIN_META is None, reason="tests/fixtures/models/optimizers.* missing")


def _make(cls_name, kwargs, inner=None, optimizer_map=None):
    kw = dict(kwargs)
    if optimizer_map is not None:  # MultiOptimizer(OptimizerMap(default, {pattern: optimizer}))
        default, mapping = optimizer_map
        omap = O.OptimizerMap(_make(*default), {k: _make(*v) for k, v in mapping.items()})
        return getattr(O, cls_name)(omap, **kw)
    if isinstance(kw.get("learning_rate"), list):  # ["ScheduleName", {...}] in the fixtures
        name, cfg = kw["learning_rate"]
        kw["learning_rate"] = getattr(S, name)(**cfg)
    if inner is not None:  # LossScaleOptimizer(inner)
        return getattr(O, cls_name)(_make(*inner), **kw)
    return getattr(O, cls_name)(**kw)


def _check_config(ours, keras_cfg):
    assert set(ours) == set(keras_cfg)
    for k, ref in keras_cfg.items():
        if k == "name":
            continue
        got = ours[k]
        if k in ("inner_optimizer", "default_optimizer"):
            assert got["class_name"] == ref["class_name"] and got["module"] == ref["module"]
            _check_config(got["config"], ref["config"])
        elif k == "optimizer_map" and "class_name" in ref:  # MultiOptimizer's OptimizerMap
            assert got["class_name"] == ref["class_name"] == "OptimizerMap"
            _check_config(got["config"], ref["config"])
        elif k == "optimizer_map":  # OptimizerMap's {pattern: optimizer}
            assert set(got) == set(ref)
            for key in ref:
                assert got[key]["class_name"] == ref[key]["class_name"]
                _check_config(got[key]["config"], ref[key]["config"])
        elif k == "learning_rate" and isinstance(ref, dict):
            assert got["class_name"] == ref["class_name"] and got["config"] == ref["config"]
            assert got["module"] == ref["module"]
        elif isinstance(ref, float):  # Keras stores the learning rate in a float32 variable
            assert got == pytest.approx(ref, rel=1e-7), k
        else:
            assert got == ref, k


# ----------------------------------------------------------------------------- Keras fixtures
@needs_main
@pytest.mark.parametrize("case", MAIN_META["cases"] if MAIN_META else [], ids=lambda c: c["name"])
def test_matches_keras_fixture(case):
    z = MAIN_ARR
    opt = _make(case["class_name"], case["kwargs"])
    inits = {"w": "w0", "v": "v0"}
    params = [Parameter(z[inits[n]].copy(), name=n) for n in case["variables"]]
    lrs = []
    for k in (1, 2, 3):
        lrs.append(opt.learning_rate)
        grads = [z[f"g{k}"], z[f"h{k}"]][:len(params)]
        opt.apply(grads, params)
        assert opt.iterations == k
        for p, n in zip(params, case["variables"]):
            assert p.data.dtype == np.float32
            np.testing.assert_allclose(p.data, z[f"{case['name']}/{n}_step{k}"], **TOL)
    np.testing.assert_allclose(lrs, case["learning_rate_used_per_step"], rtol=1e-6)
    state = opt.variables()
    assert opt.variable_names() == [v["name"] for v in case["optimizer_variables_after_3_steps"]]
    assert len(state) == len(case["optimizer_variables_after_3_steps"])
    for i, arr in enumerate(state):
        ref = z[f"{case['name']}/opt_var/{i}"]
        assert arr.dtype == ref.dtype and arr.shape == ref.shape
        np.testing.assert_allclose(arr, ref, **TOL)
    _check_config(opt.get_config(), case["config"])


@pytest.mark.skipif(EXTRA_META is None, reason="tests/fixtures/optimizers_extra.* missing")
@pytest.mark.parametrize("case", EXTRA_META["cases"] if EXTRA_META else [], ids=lambda c: c["name"])
def test_matches_keras_extra_fixture(case):
    """EMA, gradient accumulation, loss scale, weight-decay exclusion, None grads, constraints,
    a learning rate changed mid-run, a schedule with weight decay, float64 parameters."""
    _run_fixture_case(case, EXTRA_ARR, {"w": "kernel", "v": "bias"})


@pytest.mark.skipif(NEW_META is None, reason="tests/fixtures/optimizers_new.* missing")
@pytest.mark.parametrize("case", NEW_META["cases"] if NEW_META else [], ids=lambda c: c["name"])
def test_matches_keras_new_fixture(case):
    """Adamax, Lion, Lamb, Adafactor (factored and full second moments, relative step,
    schedules), Ftrl (with every regularization) and LossScaleOptimizer (a skipped non-finite
    step, the scale halved and doubled) against Keras 3.15.1."""
    opt = _run_fixture_case(case, NEW_ARR, {"w": "kernel", "v": "bias", "k": "conv"})
    if case["dynamic_scale_after_step"]:
        assert float(opt.dynamic_scale) == case["dynamic_scale_after_step"][-1]
    again = O.deserialize(O.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == opt.get_config()


def _run_fixture_case(case, z, names):
    dtype = case["dtype"]
    opt = _make(case["class_name"], case["kwargs"], case.get("inner"), case.get("optimizer_map"))
    zero = case.get("zero_init") or []
    params = [Parameter(z[f"{n}0"].astype(dtype) * (0 if n in zero else 1), name=name) for n, name in names.items()]
    for p, con in zip(params, case.get("constraints") or [None, None]):
        p.constraint = constraints.get(con) if con else None
    if case.get("exclude"):
        ex = case["exclude"]
        opt.exclude_from_weight_decay(var_list=[params[i] for i in ex.get("var_list", [])],
                                      var_names=ex.get("var_names"))
    lrs, iters = [], []
    for k, step in enumerate(case["steps"], start=1):
        if isinstance(step, dict):
            opt.learning_rate = step["set_lr"]
            step = step["grads"]
        lrs.append(None if case.get("optimizer_map") else opt.learning_rate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.apply([None if g is None else z[g].astype(dtype) for g in step], params)
        iters.append(opt.iterations)
        for p, n in zip(params, names):
            assert p.data.dtype == np.dtype(dtype)
            np.testing.assert_allclose(p.data, z[f"{case['name']}/{n}_step{k}"], **TOL)
    if not case.get("optimizer_map"):
        np.testing.assert_allclose(lrs, case["learning_rate_used_per_step"], rtol=1e-6)
    assert iters == case["iterations_after_step"]
    assert opt.variable_names() == [v["name"] for v in case["optimizer_variables"]]
    for i, arr in enumerate(opt.variables()):
        ref = z[f"{case['name']}/opt_var/{i}"]
        assert arr.dtype == ref.dtype and arr.shape == ref.shape
        np.testing.assert_allclose(arr, ref, **TOL)
    if case["finalize"]:
        opt.finalize_variable_values(params)
        for p, n in zip(params, names):
            np.testing.assert_allclose(p.data, z[f"{case['name']}/{n}_final"], **TOL)
    _check_config(opt.get_config(), case["config"])
    return opt


@needs_main
@pytest.mark.parametrize("case", MAIN_META["cases"] if MAIN_META else [], ids=lambda c: c["name"])
def test_from_keras_config(case):
    """A Keras get_config() re-creates an optimizer with the same hyperparameters."""
    opt = O.deserialize({"class_name": case["class_name"], "config": dict(case["config"])})
    assert type(opt).__name__ == case["class_name"]
    _check_config(opt.get_config(), case["config"])
    again = type(opt).from_config(opt.get_config())
    assert again.get_config() == opt.get_config()


# ----------------------------------------------------------------------------- helpers
rng = np.random.default_rng(0)


def _params(dtype=np.float32, shapes=((3, 4), (5,))):
    return [Parameter(rng.standard_normal(s).astype(dtype), name=f"p{i}") for i, s in enumerate(shapes)]


def _grads(params, seed):
    r = np.random.default_rng(seed)
    return [r.standard_normal(p.shape).astype(p.dtype) for p in params]


ALL = [
    lambda: O.SGD(0.1), lambda: O.SGD(0.1, momentum=0.9, nesterov=True), lambda: O.Adam(0.01, amsgrad=True),
    lambda: O.AdamW(0.01), lambda: O.RMSprop(0.01, momentum=0.5, centered=True), lambda: O.Adagrad(0.1),
    lambda: O.Adadelta(1.0), lambda: O.Nadam(0.01),
    lambda: O.Adam(S.ExponentialDecay(0.01, 2, 0.5), weight_decay=0.01, global_clipnorm=1.0),
    lambda: O.Nadam(0.01, use_ema=True, ema_overwrite_frequency=3, gradient_accumulation_steps=2),
]


# ----------------------------------------------------------------------------- state round trip
@pytest.mark.parametrize("make", ALL, ids=[f"opt{i}" for i in range(len(ALL))])
def test_state_round_trip_gives_identical_next_updates(make):
    opt, params = make(), _params()
    for s in range(3):
        opt.apply(_grads(params, s), params)
    snapshot = [backend.to_numpy(v).copy() for v in opt.variables()]
    weights = [p.data.copy() for p in params]
    # a fresh optimizer from the config, fresh parameters with the saved weights
    fresh = type(opt).from_config(opt.get_config())
    params2 = [Parameter(w.copy(), name=p.name) for w, p in zip(weights, params)]
    fresh.set_variables(snapshot, params2)
    assert fresh.iterations == opt.iterations and fresh.learning_rate == opt.learning_rate
    assert fresh.variable_names() == opt.variable_names()
    for s in range(3, 6):
        opt.apply(_grads(params, s), params)
        fresh.apply(_grads(params2, s), params2)
        for a, b in zip(params, params2):
            np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(opt.variables(), fresh.variables()):
        np.testing.assert_array_equal(a, b)


def test_save_and_load_own_variables():
    opt, params = O.Adam(0.01), _params()
    opt.apply(_grads(params, 0), params)
    store = {}
    opt.save_own_variables(store)
    assert sorted(store) == ["0", "1", "2", "3", "4", "5"]
    other = O.Adam(0.01)
    other.build(params)
    other.load_own_variables(store)
    for a, b in zip(opt.variables(), other.variables()):
        np.testing.assert_array_equal(a, b)


def test_set_variables_errors():
    opt, params = O.Adam(0.01), _params()
    with pytest.raises(ValueError, match="not built"):
        opt.set_variables([np.int64(0)])
    opt.build(params)
    state = [backend.to_numpy(v).copy() for v in opt.variables()]
    with pytest.raises(ValueError, match="expected 6 arrays"):
        opt.set_variables(state[:-1])
    bad = list(state)
    bad[2] = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"p0_momentum.*\(3, 4\).*\(4, 3\)"):
        opt.set_variables(bad)


def test_variables_order_and_names_follow_keras():
    p = [Parameter(np.ones((2,), np.float32), name="kernel"), Parameter(np.ones((3,), np.float32), name="bias")]
    p[0].path, p[1].path = "dense/kernel", "dense/bias"
    opt = O.Adam(amsgrad=True)
    opt.build(p)
    assert opt.variable_names() == ["iteration", "learning_rate", "dense_kernel_momentum", "dense_kernel_velocity",
                                    "dense_bias_momentum", "dense_bias_velocity", "dense_kernel_velocity_hat",
                                    "dense_bias_velocity_hat"]
    v = opt.variables()
    assert v[0].dtype == np.int64 and v[1].dtype == np.float32 and [a.shape for a in v[2:4]] == [(2,), (2,)]
    rms = O.RMSprop(momentum=0.1, centered=True)
    rms.build(p)
    assert rms.variable_names()[2:] == ["dense_kernel_velocity", "dense_bias_velocity", "dense_kernel_momentum",
                                        "dense_bias_momentum", "dense_kernel_average_gradient",
                                        "dense_bias_average_gradient"]
    sched = O.SGD(S.ExponentialDecay(0.1, 10, 0.9))
    sched.build(p)
    assert sched.variable_names() == ["iteration"]  # no learning_rate variable with a schedule (as Keras)


def test_params_seen_later_get_slots_lazily():
    opt = O.Adam(0.01)
    a, b = _params()
    opt.apply([_grads([a], 0)[0]], [a])
    opt.apply(_grads([a, b], 1), [a, b])
    assert opt.variable_names() == ["iteration", "learning_rate", "p0_momentum", "p0_velocity", "p1_momentum",
                                    "p1_velocity"]
    assert opt.iterations == 2


# ----------------------------------------------------------------------------- learning rate
def test_learning_rate_getter_setter():
    opt = O.SGD(learning_rate=0.1)
    assert isinstance(opt.learning_rate, float) and opt.learning_rate == 0.1
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01 and opt.get_config()["learning_rate"] == 0.01
    (p,) = _params(shapes=((4,),))
    before = p.data.copy()
    g = np.ones(4, np.float32)
    opt.apply([g], [p])
    np.testing.assert_array_equal(p.data, before - g * np.float32(0.01))
    opt.learning_rate = np.float32(0.5)  # NumPy scalars and ints are accepted too
    opt.learning_rate = 1
    assert opt.learning_rate == 1.0
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -0.1
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = "fast"


def test_learning_rate_schedule_follows_iterations():
    sched = S.PiecewiseConstantDecay([1, 2], [0.5, 0.25, 0.125])
    opt = O.SGD(learning_rate=sched)
    (p,) = _params(shapes=((3,),))
    seen = []
    for _ in range(4):
        seen.append(opt.learning_rate)
        w = p.data.copy()
        opt.apply([np.ones(3, np.float32)], [p])
        np.testing.assert_allclose(w - p.data, seen[-1])  # the update used that rate
    assert seen == [0.5, 0.5, 0.25, 0.125]
    assert opt.get_config()["learning_rate"] == S.serialize(sched)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1
    opt.learning_rate = S.ExponentialDecay(1.0, 1, 0.5)  # a schedule replaces a schedule
    assert opt.learning_rate == pytest.approx(0.5 ** 4)
    plain = O.Adam(0.01)
    plain.learning_rate = S.CosineDecay(0.01, 10)
    assert plain.variable_names() == ["iteration"]
    restored = O.Adam.from_config(plain.get_config())
    assert isinstance(restored._learning_rate, S.CosineDecay) and restored.learning_rate == pytest.approx(0.01)


def test_callable_learning_rate():
    box = {"lr": 0.2}
    opt = O.SGD(learning_rate=lambda: box["lr"])
    assert opt.learning_rate == 0.2
    box["lr"] = 0.3
    (p,) = _params(shapes=((2,),))
    w = p.data.copy()
    opt.apply([np.ones(2, np.float32)], [p])
    np.testing.assert_allclose(w - p.data, 0.3, rtol=1e-6)


# ----------------------------------------------------------------------------- step semantics
def test_none_grads_are_skipped():
    opt = O.Adam(0.1, weight_decay=0.5)
    a, b = _params()
    b0 = b.data.copy()
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['p1'\]"):
        opt.apply([_grads([a], 0)[0], None], [a, b])
    np.testing.assert_array_equal(b.data, b0)  # no update, no weight decay
    assert opt.iterations == 1 and len(opt.variables()) == 6  # slots exist for both (built on all)
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply([None, None], [a, b])
    opt.apply([], [])  # empty: a no-op, as in Keras
    assert opt.iterations == 1


def test_apply_gradients_and_apply_without_params():
    opt = O.SGD(0.5)
    a, b = _params()
    ga, gb = _grads([a, b], 0)
    wa = a.data.copy()
    assert opt.apply_gradients(zip([ga, gb], [a, b])) == 1
    np.testing.assert_allclose(a.data, wa - np.float32(0.5) * ga)
    opt.apply([ga, gb])  # once built, grads follow the built parameters
    assert opt.iterations == 2
    with pytest.raises(ValueError, match="2 parameters"):
        opt.apply([ga])
    with pytest.raises(ValueError, match="must already be built"):
        O.SGD().apply([ga])


def test_grads_are_not_modified_and_tensors_accepted():
    from core import Tensor

    opt = O.Adam(0.1, clipnorm=0.1)
    (p,) = _params(shapes=((6,),))
    g = np.arange(6, dtype=np.float32)
    keep = g.copy()
    opt.apply([Tensor(g)], [p])
    opt.apply([g], [p])
    np.testing.assert_array_equal(g, keep)


def test_float32_kept_and_slot_dtypes():
    opt = O.Adam(0.01)
    p32 = Parameter(np.ones((2, 3), np.float32), name="a")
    p64 = Parameter(np.ones((4,), np.float64), name="b")
    opt.apply([np.full((2, 3), 0.5, np.float64), np.full((4,), 0.5, np.float32)], [p32, p64])
    assert p32.data.dtype == np.float32 and p64.data.dtype == np.float64
    dtypes = [v.dtype for v in opt.variables()[2:]]
    assert dtypes == [np.float32, np.float32, np.float64, np.float64]


def test_grad_shape_mismatch():
    (p,) = _params(shapes=((3, 4),))
    with pytest.raises(ValueError, match=r"'p0'.*\(4, 3\).*\(3, 4\)"):
        O.SGD().apply([np.zeros((4, 3), np.float32)], [p])


def test_constraint_applied_after_update():
    p = Parameter(np.array([1.0, -1.0, 0.5], np.float32), name="w")
    p.constraint = constraints.NonNeg()
    q = Parameter(np.array([-3.0], np.float32), name="q")
    q.constraint = constraints.NonNeg()
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        O.SGD(learning_rate=1.0).apply([np.array([2.0, -2.0, 0.25], np.float32), None], [p, q])
    # update first: [-1, 1, 0.25], then NonNeg: [0, 1, 0.25]; q had no gradient: untouched
    np.testing.assert_array_equal(p.data, [0.0, 1.0, 0.25])
    assert q.data[0] == -3.0


def test_clipping_variants_by_hand():
    g = np.array([3.0, 4.0], np.float32)  # norm 5
    h = np.array([0.0, 12.0], np.float32)  # norm 12; global norm 13
    for kw, ref_g, ref_h in [
        (dict(clipnorm=1.0), g / 5, h / 12),
        (dict(global_clipnorm=1.0), g / 13, h / 13),
        (dict(clipvalue=3.5), np.array([3.0, 3.5]), np.array([0.0, 3.5])),
        (dict(clipnorm=100.0), g, h),  # below the threshold: unchanged
    ]:
        a, b = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float32))
        O.SGD(learning_rate=1.0, **kw).apply([g, h], [a, b])
        np.testing.assert_allclose(-a.data, ref_g, rtol=1e-6)
        np.testing.assert_allclose(-b.data, ref_h, rtol=1e-6)
    z = Parameter(np.ones(2, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a zero global norm must not divide by zero noisily
        O.SGD(1.0, global_clipnorm=1.0).apply([np.zeros(2, np.float32)], [z])
        O.SGD(1.0, clipnorm=1.0).apply([np.zeros(2, np.float32)], [z])
    np.testing.assert_array_equal(z.data, [1.0, 1.0])


def test_weight_decay_formula_and_exclusion():
    # SGD with weight decay: p -= p * wd * lr, then p -= lr * g (decay uses the pre-update value)
    a = Parameter(np.array([2.0], np.float32), name="kernel")
    b = Parameter(np.array([2.0], np.float32), name="my_bias")
    c = Parameter(np.array([2.0], np.float32), name="other")
    opt = O.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[c], var_names=["bias"])
    g = np.array([1.0], np.float32)
    opt.apply([g, g, g], [a, b, c])
    np.testing.assert_allclose(a.data, [2.0 - 2.0 * 0.5 * 0.1 - 0.1], rtol=1e-6)
    np.testing.assert_allclose(b.data, [1.9], rtol=1e-6)
    np.testing.assert_allclose(c.data, [1.9], rtol=1e-6)


def test_iterations_settable_and_used_by_bias_correction():
    opt = O.Adam(0.1)
    (p,) = _params(shapes=((2,),))
    opt.iterations = 10
    w = p.data.copy()
    opt.apply([np.ones(2, np.float32)], [p])
    # step 11, m = 0.1, v = 0.001: alpha = lr*sqrt(1-b2^11)/(1-b1^11); update = alpha*m/(sqrt(v)+eps)
    alpha = 0.1 * np.sqrt(1 - 0.999 ** 11) / (1 - 0.9 ** 11)
    np.testing.assert_allclose(w - p.data, alpha * 0.1 / (np.sqrt(0.001) + 1e-7), rtol=1e-5)
    assert opt.iterations == 11
    with pytest.raises(ValueError, match="iterations"):
        opt.iterations = -1


# ----------------------------------------------------------------------------- lookup / config
@pytest.mark.parametrize("name,cls", [("adam", O.Adam), ("SGD", O.SGD), ("RMSprop", O.RMSprop),
                                      ("rmsprop", O.RMSprop), ("Adagrad", O.Adagrad), ("adadelta", O.Adadelta),
                                      ("AdamW", O.AdamW), ("NADAM", O.Nadam)])
def test_get_by_name(name, cls):
    opt = O.get(name)
    assert type(opt) is cls
    default = cls()
    assert opt.get_config() | {"name": None} == default.get_config() | {"name": None}


def test_get_instance_dict_and_errors():
    opt = O.Adam(0.02)
    assert O.get(opt) is opt
    again = O.get(O.serialize(opt))
    assert type(again) is O.Adam and again.learning_rate == 0.02
    assert O.serialize(opt)["module"] == "keras.optimizers" and O.serialize(opt)["class_name"] == "Adam"
    assert type(O.get({"class_name": "sgd", "config": {"learning_rate": 0.3}})) is O.SGD
    with pytest.raises(ValueError, match=r"'adamix'.*adam, adamax, adamw.*sgd"):
        O.get("adamix")
    for name in ("adamax", "lion", "lamb", "adafactor", "ftrl", "nadam", "adadelta", "muon", "schedulefreeadamw"):
        assert type(O.get(name)).__name__.lower() == name
    with pytest.raises(ValueError, match="Could not interpret"):
        O.get(3)


def test_defaults_and_names_match_keras():
    assert O.SGD().get_config()["learning_rate"] == 0.01 and O.SGD().momentum == 0.0
    adam = O.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.001, 0.9, 0.999, 1e-7,
                                                                                         False)
    assert O.AdamW().weight_decay == 0.004
    rms = O.RMSprop()
    assert (rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.9, 0.0, 1e-7, False)
    assert O.Adagrad().initial_accumulator_value == 0.1 and O.Adadelta().rho == 0.95
    assert O.RMSprop().name.startswith("rm_sprop") and O.AdamW().name.startswith("adam_w")
    n1, n2 = O.Nadam().name, O.Nadam().name
    assert n1 != n2 and n2.startswith("nadam")


def test_custom_optimizer_registration():
    @O.register_optimizer
    class HalfSGD(O.SGD):
        pass

    cfg = O.serialize(HalfSGD(0.2))
    assert cfg["registered_name"] == "Custom>HalfSGD"  # Keras: "package>name"
    assert type(O.deserialize(cfg)) is HalfSGD and type(O.get("halfsgd")) is HalfSGD


@pytest.mark.parametrize("make,match", [
    (lambda: O.SGD(learning_rate=-0.1), "learning_rate"),
    (lambda: O.Adam(learning_rate="fast"), "learning_rate"),
    (lambda: O.SGD(momentum=1.5), "momentum"),
    (lambda: O.SGD(momentum=-0.1), "momentum"),
    (lambda: O.RMSprop(momentum=2.0), "momentum"),
    (lambda: O.Adam(beta_1=1.2), "beta_1"),
    (lambda: O.Nadam(beta_2=-0.5), "beta_2"),
    (lambda: O.Adam(epsilon=-1e-7), "epsilon"),
    (lambda: O.RMSprop(rho=1.1), "rho"),
    (lambda: O.Adam(clipnorm=1.0, clipvalue=1.0), "Only one of"),
    (lambda: O.SGD(clipnorm=-1.0), "clipnorm"),
    (lambda: O.AdamW(weight_decay=None), "weight_decay"),
    (lambda: O.SGD(weight_decay=-0.1), "weight_decay"),
    (lambda: O.SGD(lr=0.1), "not recognized"),
    (lambda: O.SGD(gradient_accumulation_steps=1), "gradient_accumulation_steps"),
    (lambda: O.SGD(use_ema=True, ema_momentum=1.5), "ema_momentum"),
    (lambda: O.SGD(float("nan")), "learning_rate"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_schedules_reexported():
    assert O.schedules.ExponentialDecay is S.ExponentialDecay
    assert O.LearningRateSchedule is S.LearningRateSchedule


# ----------------------------------------------------------------------------- CuPy
def test_update_code_is_array_module_agnostic():
    """Update code reaches NumPy only through helpers on host scalars: no ``np.`` on data."""
    for cls in (O.Optimizer, O.SGD, O.Adam, O.RMSprop, O.Adagrad, O.Adadelta, O.Nadam):
        for meth in ("update_step", "_apply_weight_decay", "_clip_gradients", "_apply_gradients",
                     "_update_moving_average"):
            src = inspect.getsource(getattr(cls, meth))
            assert "np." not in src, f"{cls.__name__}.{meth} uses np. on arrays"
    from core.optimizers import clipping
    assert "np." not in inspect.getsource(clipping.clip_by_norm)


def _gpu_usable():
    try:
        import cupy

        return backend.cupy_available() and cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_usable(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("make", ALL, ids=[f"opt{i}" for i in range(len(ALL))])
def test_cupy_matches_numpy(make):
    import cupy

    cpu_opt, gpu_opt = make(), make()
    cpu = _params()
    gpu = [Parameter(cupy.asarray(p.data), name=p.name) for p in cpu]
    for s in range(4):
        grads = _grads(cpu, s)
        cpu_opt.apply(grads, cpu)
        gpu_opt.apply([cupy.asarray(g) for g in grads], gpu)
    for a, b in zip(cpu, gpu):
        assert isinstance(b.data, cupy.ndarray) and b.data.dtype == np.float32
        np.testing.assert_allclose(cupy.asnumpy(b.data), a.data, rtol=1e-5, atol=1e-6)
    state = [backend.to_numpy(v).copy() for v in gpu_opt.variables()]
    fresh = make()
    fresh.set_variables(state, gpu)
    for a, b in zip(gpu_opt.variables(), fresh.variables()):
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))


# ----------------------------------------------------------------------------- fused Adam
class _StepwiseAdam(O.Adam):
    """Adam through ``update_step`` one parameter at a time (an overridden update_step turns
    the fused flat-buffer update off): the reference for the fused one."""

    def update_step(self, gradient, variable, learning_rate):
        return super().update_step(gradient, variable, learning_rate)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_equals_stepwise_adam(amsgrad, dtype):
    """Small parameters (one flat segment) and large ones (> _FLAT_MAX, updated on their own
    views), a subset step (other parameters: the unfused path) and a state round trip."""
    r = np.random.default_rng(3)
    shapes = [(784, 64), (64,), (300, 300), (64, 10), (10,)]
    assert max(int(np.prod(s)) for s in shapes) > O.Optimizer._FLAT_MAX
    inits = [r.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[r.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    runs = []
    for cls in (O.Adam, _StepwiseAdam):
        params = [Parameter(a.copy()) for a in inits]
        opt = cls(learning_rate=0.01, amsgrad=amsgrad)
        opt.apply(grads[0], params)
        opt.apply(grads[1], params)
        opt.apply(grads[2][:2], params[:2])  # a subset of the parameters
        state = [np.array(v) for v in opt.variables()]
        opt.set_variables(state)  # assigned in place: the flat buffers stay the live state
        opt.apply(grads[3], params)
        runs.append(([p.data.copy() for p in params], [np.array(v) for v in opt.variables()]))
    (p_fused, s_fused), (p_ref, s_ref) = runs
    for a, b in zip(p_fused + s_fused, p_ref + s_ref):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_fused_adam_state_lives_in_the_slots():
    """variables() and the slots are the buffers the fused update writes."""
    params = [Parameter(np.ones((4, 3), np.float32)), Parameter(np.ones(3, np.float32))]
    opt = O.Adam(0.1)
    opt.apply([np.full((4, 3), 0.5, np.float32), np.full(3, -2.0, np.float32)], params)
    state = opt.variables()  # iteration, learning_rate, then m and v of each parameter
    np.testing.assert_allclose(state[2], 0.05, rtol=1e-6)
    np.testing.assert_allclose(state[4], -0.2, rtol=1e-6)
    assert state[2] is opt._slot("momentum", params[0])
    opt.set_variables([np.zeros_like(v) if i > 1 else v for i, v in enumerate(opt.variables())])
    assert all((v == 0).all() for v in opt.variables()[2:])


def test_new_optimizers_defaults_and_argument_errors():
    assert (O.Adamax().beta_1, O.Adamax().beta_2, O.Adamax().epsilon) == (0.9, 0.999, 1e-7)
    assert (O.Lion().beta_1, O.Lion().beta_2) == (0.9, 0.99)
    assert (O.Lamb().beta_1, O.Lamb().beta_2, O.Lamb().epsilon) == (0.9, 0.999, 1e-7)
    ada = O.Adafactor()
    assert (ada.beta_2_decay, ada.epsilon_1, ada.epsilon_2, ada.clip_threshold, ada.relative_step) == (
        -0.8, 1e-30, 1e-3, 1.0, True)
    ftrl = O.Ftrl()
    assert (ftrl.learning_rate_power, ftrl.initial_accumulator_value, ftrl.beta) == (-0.5, 0.1, 0.0)
    with pytest.raises(ValueError, match="SignSGD"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="learning_rate_power"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        O.Ftrl(l1_regularization_strength=-1.0)
    with pytest.raises(ValueError, match="does not support `weight_decay`"):
        O.LossScaleOptimizer(O.SGD(), weight_decay=0.1)
    with pytest.raises(ValueError, match="dynamic=False"):
        O.LossScaleOptimizer(O.SGD(), dynamic=False)


def test_loss_scale_optimizer_state_round_trip_and_scale_loss():
    opt = O.LossScaleOptimizer(O.Adam(0.01), initial_scale=4.0, dynamic_growth_steps=3)
    p = Parameter(np.ones((2, 2), np.float32), name="w")
    assert float(opt.scale_loss(np.float32(2.0))) == 8.0
    opt.apply([np.full((2, 2), np.nan, np.float32)], [p])
    assert float(opt.dynamic_scale) == 2.0 and opt.iterations == 0 and np.all(p.data == 1)
    opt.apply([np.ones((2, 2), np.float32) * 2.0], [p])
    assert opt.iterations == 1 and opt.step_counter == 1 and not np.all(p.data == 1)
    names, state = opt.variable_names(), [np.array(v) for v in opt.variables()]
    assert names[:4] == ["iteration", "learning_rate", "step_counter", "dynamic_scale"] and "w_momentum" in names
    fresh = O.LossScaleOptimizer(O.Adam(0.01), initial_scale=4.0, dynamic_growth_steps=3)
    fresh.set_variables(state, [p])
    assert float(fresh.dynamic_scale) == 2.0 and fresh.step_counter == 1 and fresh.iterations == 1
    for a, b in zip(fresh.variables(), state):
        np.testing.assert_array_equal(a, b)
    assert opt.learning_rate == pytest.approx(0.01)
    opt.learning_rate = 0.5
    assert opt.inner_optimizer.learning_rate == 0.5


@pytest.mark.parametrize("name", ["adamax", "lion", "lamb", "adafactor", "ftrl", "muon", "schedulefreeadamw"])
def test_new_optimizers_train_a_model(name):
    from core import layers, models
    from core.utils import set_random_seed

    set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(1)])
    lr = {"adamax": 0.1, "lion": 0.05, "lamb": 0.1, "adafactor": 0.5, "ftrl": 1.0, "muon": 0.1,
          "schedulefreeadamw": 0.1}[name]
    model.compile(optimizer=O.get({"class_name": name, "config": {"learning_rate": lr}}), loss="mse")
    losses = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_multi_optimizer_routing_and_errors():
    sgd, adam = O.SGD(0.1), O.Adam(0.01)
    w = Parameter(np.ones((2, 2), np.float32), name="kernel")
    b = Parameter(np.ones((2,), np.float32), name="bias")
    multi = O.MultiOptimizer(lambda v: adam if v.data.ndim == 1 else sgd)  # any callable
    multi.apply([np.ones((2, 2), np.float32), np.ones(2, np.float32)], [w, b])
    assert sgd.iterations == 1 and adam.iterations == 1 and multi.iterations == 1
    np.testing.assert_allclose(w.data, 0.9)
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate
    with pytest.raises(NotImplementedError, match="callable"):
        multi.get_config()
    omap = O.OptimizerMap(O.SGD(), {"a.*": O.Adam(), ".*b": O.Lion()})
    with pytest.raises(ValueError, match="Multiple optimizers"):
        omap["ab"]
    assert isinstance(omap["xyz"], O.SGD) and isinstance(omap["abc"], O.Adam)
    with pytest.raises(ValueError, match="already exists"):
        omap["a.*"] = O.SGD()
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        omap["z"] = O.LossScaleOptimizer(O.SGD())
    with pytest.raises(TypeError, match="default_optimizer"):
        O.OptimizerMap("sgd")


def test_loss_scaling_in_fit_trains_as_the_unscaled_optimizer():
    """fit scales the loss before the gradients (as Keras's train_step), so loss_scale_factor and
    LossScaleOptimizer, which divide the gradients back, train as the plain optimizer."""
    from core import layers, models
    from core.utils import set_random_seed

    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    histories = []
    for opt in (O.SGD(0.05), O.LossScaleOptimizer(O.SGD(0.05), initial_scale=1024.0),
                O.SGD(0.05, loss_scale_factor=8.0)):
        set_random_seed(0)
        m = models.Sequential([layers.Input((4,)), layers.Dense(1)])
        m.compile(opt, "mse")
        histories.append(m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"])
    assert histories[0][-1] < 0.5 * histories[0][0]
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    np.testing.assert_allclose(histories[2], histories[0], rtol=1e-5)
