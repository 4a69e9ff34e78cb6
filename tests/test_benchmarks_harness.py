"""The benchmark harness (benchmarks/run_benchmarks.py): its table and JSON structure, on smoke sizes
for our framework only. No timed assertions: only structure, statuses and arithmetic."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "benchmarks", "run_benchmarks.py")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import run_benchmarks as rb  # noqa: E402


def _ok(w, f, times, rss=100.0, n=10):
    return dict(workload=w, framework=f, status="ok", times=times, n=n, unit="samples/s", peak_rss_mb=rss)


def test_summary_ratio_fastest_peer_and_unavailable():
    runs = [_ok("a32", "ours", [2.0, 4.0, 3.0]), _ok("a32", "keras-tf", [1.5]), _ok("a32", "torch", [6.0]),
            dict(workload="a32", framework="keras-jax", status="unavailable", reason="ImportError: no jax"),
            dict(workload="c", framework="ours", status="unavailable", reason="Unavailable: zoo model 'x'"),
            _ok("c", "keras-tf", [1.0], rss=900.0), _ok("c", "torch", [0.5], rss=300.0)]
    fws = ["ours", "keras-tf", "keras-jax", "torch"]
    s = rb.summarize(runs, ["a32", "c"], fws)
    assert s["a32"]["fastest_peer"] == "keras-tf"
    assert s["a32"]["ours_over_fastest_peer"] == pytest.approx(3.0 / 1.5)
    assert s["a32"]["frameworks"]["ours"]["throughput"] == pytest.approx(10 / 3.0)
    assert s["a32"]["frameworks"]["keras-jax"]["status"] == "unavailable"
    assert s["c"]["fastest_peer"] == "torch" and s["c"]["ours_over_fastest_peer"] is None
    table = rb.format_table(s, fws)
    row = next(ln for ln in table.splitlines() if ln.startswith("a32 "))
    assert row.split()[1:] == ["3", "1.5", "n/a", "6", "2.00x", "keras-tf"]
    assert "c ours: unavailable: Unavailable: zoo model 'x'" in table
    assert "Peak resident memory" in table


def test_schedule_alternates_and_splits_repeats():
    order = rb.schedule(["a", "b"], ["ours", "x", "y"], 2)
    assert [f for w, r, f in order[:6]] == ["ours", "x", "y", "x", "y", "ours"]
    assert [(w, r) for w, r, f in order[6:9]] == [("b", 0)] * 3 and order[6][2] == "y"
    assert rb.split_repeats(5, 2) == [3, 2] and sum(rb.split_repeats(3, 3)) == 3


def test_parse_child_output_takes_the_marker_line():
    out = "noise\nBENCH_RESULT {\"status\": \"ok\", \"times\": [1.0]}\ntrailing log\n"
    assert rb.parse_child_output(out) == {"status": "ok", "times": [1.0]}
    assert rb.parse_child_output("no result here") is None


def test_bad_arguments_name_what_was_expected():
    for argv, needle in ((["--only", "zz"], "unknown workload"), (["--frameworks", "torch"], "--peer-python"),
                         (["--repeats", "2", "--processes", "3"], "--processes")):
        p = subprocess.run([sys.executable, HARNESS, *argv], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and needle in p.stderr


@pytest.mark.slow
def test_smoke_run_ours_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, HARNESS, "--smoke", "--only", "a128", "--repeats", "2", "--processes", "2",
                        "--busy", "1", "--json", str(out), "--quiet"], capture_output=True, text=True, timeout=240,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    assert any(ln.startswith("Median seconds") for ln in lines)
    # time, rate, memory, busy, CPU use
    assert [ln.split()[0] for ln in lines if ln.startswith("a128 ")] == ["a128"] * 5
    doc = json.loads(out.read_text())
    meta = doc["meta"]
    assert meta["smoke"] is True and meta["complete"] is True and meta["frameworks"] == ["ours"]
    assert meta["threads"] == 2 and "run_benchmarks.py" in meta["command"]
    assert set(doc["workloads"]) == {"a128"} and len(doc["runs"]) == 4  # 2 processes, alone and shared
    assert meta["busy"] == 1 and [r["busy"] for r in doc["runs"]] == [0, 1, 0, 1]
    shared = doc["workloads_busy"]["a128"]["frameworks"]["ours"]
    assert shared["status"] == "ok" and len(shared["times"]) == 2
    busy_row = next(ln for ln in lines if ln.startswith("a128 ") and "->" in ln)
    assert f"({shared['median_s'] / doc['workloads']['a128']['frameworks']['ours']['median_s']:.2f}x)" in busy_row
    for w in ("a128",):
        e = doc["workloads"][w]["frameworks"]["ours"]
        assert e["status"] == "ok", e
        assert len(e["times"]) == 2 and all(t > 0 for t in e["times"])
        assert e["median_s"] == pytest.approx(sorted(e["times"])[0] / 2 + sorted(e["times"])[1] / 2)
        assert e["peak_rss_mb"] > 10 and e["n"] == 256
        assert doc["workloads"][w]["ours_over_fastest_peer"] is None  # no peers in this run
        assert 0 < e["cpu_s"] and e["cores"] == pytest.approx(e["cpu_s"] / e["median_s"])
    cpu_row = [ln for ln in lines if ln.startswith("a128 ")][-1]
    alone = doc["workloads"]["a128"]["frameworks"]["ours"]
    assert f"{alone['cores']:.2f} -> {shared['cores']:.2f}" in cpu_row
    assert f">= {rb.least_slowdown(alone['cores'], 1, rb.busy_cpus(meta)):.2f}x" in cpu_row
    assert {r["round"] for r in doc["runs"]} == {0, 1} and all(r["threads"] == 2 for r in doc["runs"])
    again = rb.table_from_json(str(out))  # the table is rebuilt from the JSON alone
    assert [ln for ln in again.splitlines() if ln.startswith("a128 ")] == [ln for ln in lines if ln.startswith("a128 ")]


def test_least_slowdown_is_the_fair_share_bound():
    # two busy cores alone, one busy process joins on 2 CPUs: 3 runnable, 4/3 CPUs for the child
    assert rb.least_slowdown(2.0, 1, 2) == pytest.approx(1.5)
    assert rb.least_slowdown(1.0, 1, 2) == 1.0          # one core alone: the other CPU is free for the hog
    assert rb.least_slowdown(1.1, 1, 2) == pytest.approx(1.05)
    assert rb.least_slowdown(2.0, 2, 2) == pytest.approx(2.0)
    assert rb.busy_cpus({"cpus": 8, "affinity_cpus": 2}) == 2 and rb.busy_cpus({"cpus": 8}) == 8


def test_busy_processes_run_during_the_block_and_end_after_it():
    with rb.BusyProcesses(2) as hogs:
        assert len(hogs.procs) == 2 and all(p.poll() is None for p in hogs.procs)
    assert all(p.returncode is not None for p in hogs.procs)


def test_model_flops_counts_the_cnn_by_hand():
    """benchmarks/model_flops.py: 2 x multiply-adds of each conv and dense layer of the CNN (b)."""
    import model_flops

    by_hand = 2 * (26 * 26 * 32 * 9 * 1 + 11 * 11 * 64 * 9 * 32 + 1600 * 10)
    assert model_flops.forward_flops(model_flops._model("cnn"), (28, 28, 1)) == by_hand


def test_model_flops_counts_the_toy_resnet_by_hand():
    """Workload j (keras-io's toy ResNet): 3x3 convs 3->32 (30x30), 32->64 (28x28), four 64->64 at
    9x9 ('same'), 64->64 (7x7), then Dense 64->256 and 256->10."""
    import model_flops

    by_hand = 2 * (30 * 30 * 32 * 27 + 28 * 28 * 64 * 9 * 32 + 4 * 81 * 64 * 9 * 64 + 49 * 64 * 9 * 64
                   + 64 * 256 + 256 * 10)
    assert model_flops.forward_flops(model_flops._model("toy_resnet"), (32, 32, 3)) == by_hand


def test_model_flops_only_refuses_an_unknown_workload(capsys, monkeypatch):
    import model_flops

    monkeypatch.setattr(sys, "argv", ["model_flops.py", "--only", "j,zz"])
    with pytest.raises(SystemExit) as e:
        model_flops.main()
    assert e.value.code == 2
    assert "unknown workload(s) ['zz']" in capsys.readouterr().err


def test_model_flops_step_gemms_of_the_cnn_by_hand():
    """--gemm-floor replays, per layer, the forward, kernel-gradient and (but for the first layer)
    input-gradient products with the im2col shapes: their multiply-adds are 3x the forward's, less
    the first layer's input gradient."""
    import model_flops

    gemms = model_flops.step_gemms(model_flops._model("cnn"), (28, 28, 1), 64)
    assert sorted(gemms) == sorted([(64 * 26 * 26, 9, 32, "fwd"), (64 * 26 * 26, 9, 32, "dk"),
                                    (64 * 11 * 11, 288, 64, "fwd"), (64 * 11 * 11, 288, 64, "dk"),
                                    (64 * 11 * 11, 288, 64, "dx"),
                                    (64, 1600, 10, "fwd"), (64, 1600, 10, "dk"), (64, 1600, 10, "dx")])
    fwd = model_flops.forward_flops(model_flops._model("cnn"), (28, 28, 1)) * 64
    assert sum(2 * r * k * n for r, k, n, _ in gemms) == 3 * fwd - 2 * 64 * 26 * 26 * 9 * 32


def test_model_flops_gemm_floor_runs_every_product(monkeypatch):
    """The floor's replay covers every row of every product, in blocks (no timed assertion)."""
    import numpy as np

    import model_flops
    from core import parallel

    calls = []
    real = np.matmul

    def counting(a, b, out=None):
        calls.append((a.shape, b.shape))
        return real(a, b, out=out)

    monkeypatch.setattr(np, "matmul", counting)
    seconds = model_flops.gemm_floor_seconds([(1000, 27, 16, "fwd"), (1000, 27, 16, "dk"), (1000, 27, 16, "dx")],
                                             repeats=1)
    monkeypatch.undo()
    assert seconds > 0
    fwd = [a[0] for a, b in calls if b == (27, 16)]  # (rows, 27) @ (27, 16)
    dx = [a[0] for a, b in calls if b == (16, 27)]  # (rows, 16) @ (16, 27)
    dk = [b[0] for a, b in calls if a[0] == 27]  # (27, rows) @ (rows, 16)
    # a warm-up step and one timed step, each over at least the 1000 rows of each product
    assert sum(fwd) >= 2000 and sum(dx) >= 2000 and sum(dk) >= 2000
    assert len(fwd) == len(dx) == len(dk) >= 2 * parallel.num_threads()  # blocks shared out among threads


def test_profile_mlp_step_numpy_floor_is_the_engines_arithmetic():
    """The hand-written NumPy step that profile_mlp_step.py --numpy times as the floor computes
    what the engine's fit computes: same weights after three Adam steps on the same batches."""
    import numpy as np

    import profile_mlp_step
    from core import layers as L
    from core import models, optimizers

    from core.utils import set_random_seed

    r = np.random.default_rng(3)
    x = r.random((96, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[r.integers(0, 10, 96)]
    # seeded weights: Adam's first steps divide each gradient element by its own size, so an element
    # near zero (|g| ~ epsilon) turns a last-bit difference of summation order (BLAS's blocking against
    # NumPy's) into ~1e-6 of weight; an unseeded draw produced such an element in about 1 run of 3
    set_random_seed(0)
    m = models.Sequential([L.Input((784,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(10, activation="softmax")])
    m.compile(optimizer=optimizers.Adam(), loss="categorical_crossentropy")
    # one intra-op thread: the engine's threaded reductions add per-thread partial sums as they finish,
    # so with several threads a near-zero gradient can differ in its last bits from run to run and
    # Adam turns that into ~1e-6; this test is about the arithmetic, not the threading
    from core import parallel

    threads = parallel.num_threads()
    parallel.set_num_threads(1)
    try:
        m.predict(x[:1], verbose=0)  # the engine's first-work host settings, before the NumPy step too
        weights = [w.copy() for w in m.get_weights()]
        step = profile_mlp_step.numpy_training_step(weights)
        losses = [step(x[i:i + 32], y[i:i + 32], k + 1) for k, i in enumerate(range(0, 96, 32))]
        m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    finally:
        parallel.set_num_threads(threads)
    for ours, raw in zip(m.get_weights(), weights):
        np.testing.assert_allclose(raw, ours, rtol=1e-5, atol=1e-6)
    assert np.isfinite(losses).all() and losses[0] > 0
