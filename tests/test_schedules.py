"""Learning-rate schedules vs Keras 3.15.1 values (tests/fixtures/models/optimizers.json and
tests/fixtures/optimizers_extra.json), configs, serialization and argument errors."""
import json
import os

import numpy as np
import pytest

from core import schedules as S

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def _meta(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


MAIN = _meta(os.path.join(FIX, "models", "optimizers.json"))
EXTRA = _meta(os.path.join(FIX, "optimizers_extra.json"))
CASES = ([(MAIN["schedule_steps"], s) for s in MAIN["schedules"]] if MAIN else []) + \
        ([(EXTRA["schedule_steps"], s) for s in EXTRA["schedules"]] if EXTRA else [])


@pytest.mark.skipif(not CASES, reason="schedule fixtures missing")
@pytest.mark.parametrize("steps,case", CASES, ids=lambda c: c["name"] if isinstance(c, dict) else "")
def test_matches_keras(steps, case):
    sched = getattr(S, case["class_name"])(**case["kwargs"])
    # Keras computes in float32, we in float64: float32 round-off (abs 6e-9 near a cosine trough)
    got = [sched(s) for s in steps]
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, case["values"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sched(np.asarray(steps)), got, rtol=0, atol=0)  # vectorised == scalar
    assert sched.get_config() == case["config"]
    if "serialized" in case:
        assert S.serialize(sched) == case["serialized"]
    again = S.deserialize(S.serialize(sched))
    assert type(again) is type(sched) and again.get_config() == sched.get_config()


def test_exact_formulas():
    assert S.ExponentialDecay(1.0, 10, 0.5)(20) == pytest.approx(0.25)
    assert S.ExponentialDecay(1.0, 10, 0.5, staircase=True)(19) == pytest.approx(0.5)
    pw = S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]  # boundary belongs to the left
    cos = S.CosineDecay(1.0, 100, alpha=0.2)
    assert cos(50) == pytest.approx(0.6) and cos(100) == pytest.approx(0.2) and cos(1000) == pytest.approx(0.2)
    warm = S.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    assert warm(2) == pytest.approx(0.5) and warm(4) == pytest.approx(1.0) and warm(9) == pytest.approx(0.5)
    poly = S.PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=2.0)
    assert poly(5) == pytest.approx(0.25) and poly(50) == 0.0
    cyc = S.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert cyc(0) == 1.0 and cyc(15) == pytest.approx(0.25)  # horizon 20 at step 15
    assert S.InverseTimeDecay(1.0, 1, 1.0)(3) == pytest.approx(0.25)


def test_step_types():
    sched = S.ExponentialDecay(0.1, 10, 0.9)
    ref = sched(7)
    assert sched(np.int64(7)) == ref and sched(np.array(7)) == ref and sched(7.0) == ref
    vals = sched([0, 7])
    assert isinstance(vals, np.ndarray) and vals.shape == (2,)


def test_get_and_deserialize():
    s = S.CosineDecay(0.1, 100)
    assert S.get(s) is s
    assert S.get(0.5) == 0.5 and isinstance(S.get(1), float)
    assert isinstance(S.get({"class_name": "ExponentialDecay",
                             "config": {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}}),
                      S.ExponentialDecay)
    with pytest.raises(ValueError, match=r"unknown learning rate schedule 'Warp'.*CosineDecay"):
        S.deserialize({"class_name": "Warp", "config": {}})
    with pytest.raises(ValueError, match="needs arguments"):
        S.get("CosineDecay")
    with pytest.raises(ValueError, match="unknown learning rate schedule 'cosine'"):
        S.get("cosine")


def test_custom_schedule():
    class Halving(S.LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** int(step)

        def get_config(self):
            return {"start": self.start}

    cfg = S.serialize(Halving(1.0))
    assert cfg["class_name"] == "Halving" and cfg["registered_name"] == "Halving"
    with pytest.raises(ValueError, match="unknown"):
        S.deserialize(cfg)
    assert S.deserialize(cfg, custom_objects={"Halving": Halving})(3) == 0.125
    S.register_schedule(Halving)
    assert S.deserialize(cfg).get_config() == {"start": 1.0}
    with pytest.raises(NotImplementedError, match="must override"):
        S.LearningRateSchedule()(0)


@pytest.mark.parametrize("make,match", [
    (lambda: S.ExponentialDecay(0.1, 0, 0.9), "decay_steps"),
    (lambda: S.PolynomialDecay(0.1, -5), "decay_steps"),
    (lambda: S.CosineDecay(0.1, 0), "decay_steps"),
    (lambda: S.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1), "warmup_steps"),
    (lambda: S.InverseTimeDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: S.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
    (lambda: S.PiecewiseConstantDecay([10, 20], [1.0, 0.5]), "1 less than"),
    (lambda: S.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]), "increasing"),
    (lambda: S.ExponentialDecay("0.1", 10, 0.9), "initial_learning_rate"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
