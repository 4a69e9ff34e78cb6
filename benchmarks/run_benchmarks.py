"""Side-by-side CPU benchmarks: this project against Keras (TensorFlow and JAX backends) and PyTorch.

    python benchmarks/run_benchmarks.py [--peer-python /path/to/python] [--only a,b] [--repeats 3] [--json out.json]

Options:
  --peer-python PATH  a Python with keras 3.15.1, tensorflow-cpu 2.21.0, jax and torch 2.13.0 (and
                      transformers for h): adds the peers keras-tf, keras-jax, torch and torch-fd
                      (PyTorch with ``torch.set_flush_denormal(True)``). Without it only ours runs.
  --only a32,b,...    workloads to run (default: all, see below); --frameworks ours,torch,... likewise.
  --repeats N         timed repeats per workload and framework (default 3; the median is reported).
  --processes P       fresh processes per workload and framework the repeats are split over
                      (default 1; P = N gives one timed run per process, each after its own warm-up).
  --threads T         threads for every framework (default 2).
  --json PATH         also write the results (every run, medians, peak RSS, machine) as JSON,
                      rewritten after every child process (meta.complete is false until the end).
  --smoke             tiny sizes (a few steps each), to check the harness; the times mean nothing.
  --table-from JSON   print the table of an earlier (or interrupted) --json run and exit.
  --busy N            also run every child next to N busy-looping processes (the "one busy process"
                      a user's browser, IDE or CI neighbour makes): each run once alone and once
                      shared, and a table of alone -> shared seconds and the slowdown per framework.

Workloads (random data, identical arrays, shapes and seeds in every framework):
  a32/a128  MLP 784-64-64-10, Adam, categorical cross-entropy: one epoch of 60,000 at batch 32 / 128
  b         CNN 28x28x1 conv32-pool-conv64-pool-dense10: one epoch of 10,000 at batch 64
  c / d     ResNet50 inference, batch 16 / VGG16 inference, batch 8 (224x224x3, random weights)
  e         Embedding(20000,128)-LSTM(128)-Dense(1,sigmoid), length 200: one epoch of 5,000, batch 64
  f         transformer encoder classifier (d 128, 2 post-LN blocks, 4 heads, ff 512, length 128,
            vocab 20000): one epoch of 5,000 at batch 32
  g         CIFAR ResNet-20 training (SGD momentum): 20 steps at batch 128 (also reported as images/s)
  h         MiniLM-L6 sentence encoding with mean pooling: 256 sentences, batch 32, up to 64 tokens
            (sentences/s; the peer is PyTorch ``transformers`` BertModel, Keras has none)
  i         keras-io's convolutional denoising autoencoder (examples/vision/autoencoder.py): one epoch
            of 10,000 28x28x1 images at batch 128, Adam, binary cross-entropy
  j         the toy ResNet of keras-io's Functional API guide (CIFAR-10 shapes, layers.add, dropout):
            one epoch of 5,000 at batch 64, RMSprop, categorical cross-entropy + accuracy

How it measures: each workload and framework runs in a fresh child process
(``benchmarks/workloads/{ours,keras_peer,torch_peer}.py``), the frameworks alternating (their order
rotates from one workload and process round to the next); the child pins its threads (OMP/MKL/
OPENBLAS/TF variables, ``torch.set_num_threads``, XLA flags, CPU affinity), builds the model, warms
up (training: two batches and the epoch's last partial batch, so tracing frameworks have compiled
every shape; inference: one call), times the repeats with ``time.perf_counter`` and reports its peak
resident memory (``resource.getrusage``). The table gives each framework's median seconds and our
time divided by the fastest peer's. A workload a framework cannot run (e.g. a zoo model not written
yet) is reported as ``unavailable: <reason>``, not a crash. Never used for timed assertions in tests.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOAD_DIR = os.path.join(HERE, "workloads")
sys.path.insert(0, WORKLOAD_DIR)

import common  # noqa: E402  (standard library and NumPy only)

# framework -> (needs the peer Python, child script, extra child arguments)
FRAMEWORKS = {
    "ours": (False, "ours.py", []),
    "keras-tf": (True, "keras_peer.py", ["--backend", "tensorflow"]),
    "keras-jax": (True, "keras_peer.py", ["--backend", "jax"]),
    "torch": (True, "torch_peer.py", []),
    "torch-fd": (True, "torch_peer.py", ["--flush-denormal"]),
}
PEERS = [f for f, (peer, _, _) in FRAMEWORKS.items() if peer]


# ------------------------------------------------------------------------------------ children
def child_command(framework, workload, python, repeats, smoke, threads):
    _, script, extra = FRAMEWORKS[framework]
    cmd = [python, os.path.join(WORKLOAD_DIR, script), workload, "--repeats", str(repeats), "--threads", str(threads)]
    return cmd + extra + (["--smoke"] if smoke else [])


def child_env(framework, threads):
    env = dict(os.environ)
    env.update(common.thread_env(threads))
    if framework.startswith("keras-"):
        env["KERAS_BACKEND"] = FRAMEWORKS[framework][2][1]
    return env


def parse_child_output(stdout):
    """The result dict from a child's stdout (its last ``BENCH_RESULT`` line), or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(common.RESULT_MARKER):
            return json.loads(line[len(common.RESULT_MARKER):])
    return None


def run_child(framework, workload, python, repeats, smoke, threads, timeout):
    cmd = child_command(framework, workload, python, repeats, smoke, threads)
    base = dict(workload=workload, framework=framework, smoke=smoke, threads=threads)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=child_env(framework, threads), cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(base, status="error", reason=f"timed out after {timeout} s", wall_s=time.perf_counter() - t0)
    except OSError as e:
        return dict(base, status="error", reason=f"cannot start {cmd[0]}: {e}", wall_s=time.perf_counter() - t0)
    res = parse_child_output(proc.stdout)
    if res is None:
        tail = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()][-1:] or ["no output"]
        res = dict(base, status="error", reason=f"exit code {proc.returncode}: {tail[0][:300]}")
    res["framework"] = framework
    res["wall_s"] = time.perf_counter() - t0
    if res.get("status") == "error" and proc.stderr:
        res["stderr_tail"] = proc.stderr[-2000:]
    return res


def schedule(workloads, frameworks, processes):
    """(workload, round, framework) in run order: per workload, ``processes`` rounds in which every
    framework runs once, the order rotating by one from round to round and workload to workload."""
    order, k = [], 0
    for w in workloads:
        for r in range(processes):
            rot = k % len(frameworks)
            order += [(w, r, f) for f in frameworks[rot:] + frameworks[:rot]]
            k += 1
    return order


def split_repeats(repeats, processes):
    """How many timed repeats each of the ``processes`` processes does (they add up to ``repeats``)."""
    base, extra = divmod(repeats, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


class BusyProcesses:
    """``n`` processes that each keep one core busy (a Python busy loop) while the block runs."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        time.sleep(0.3)  # running before the child starts
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


# ------------------------------------------------------------------------------------ summary
def merge_runs(runs):
    """One entry for a workload and framework from its runs (one per process)."""
    ok = [r for r in runs if r.get("status") == "ok"]
    rss = [r["peak_rss_mb"] for r in runs if r.get("peak_rss_mb") is not None]
    if not ok:
        bad = runs[0] if runs else {"status": "error", "reason": "not run"}
        return dict(status=bad.get("status", "error"), reason=bad.get("reason", ""),
                    peak_rss_mb=max(rss) if rss else None)
    times = [t for r in ok for t in r["times"]]
    med = statistics.median(times)
    n = ok[0]["n"]
    entry = dict(status="ok", times=times, median_s=med, throughput=n / med if med > 0 else None,
                 unit=ok[0].get("unit"), n=n, peak_rss_mb=max(rss) if rss else None,
                 versions=ok[0].get("versions", {}))
    cpu = [c for r in ok for c in r.get("cpu_times", [])]
    if cpu:  # (children of older harness versions reported no CPU time)
        entry["cpu_s"] = statistics.median(cpu)
        entry["cores"] = entry["cpu_s"] / med if med > 0 else None
    if len(ok) < len(runs):
        entry["partial"] = f"{len(runs) - len(ok)} of {len(runs)} processes failed: " + \
            next(r.get("reason", "") for r in runs if r.get("status") != "ok")
    return entry


def summarize(runs, workloads, frameworks):
    """{workload: {desc, unit, frameworks: {fw: entry}, fastest_peer, ours_over_fastest_peer}}."""
    out = {}
    for w in workloads:
        fws = {f: merge_runs([r for r in runs if r["workload"] == w and r["framework"] == f]) for f in frameworks}
        peers = {f: e["median_s"] for f, e in fws.items() if f != "ours" and e["status"] == "ok"}
        fastest = min(peers, key=peers.get) if peers else None
        ours = fws.get("ours", {})
        ratio = ours["median_s"] / peers[fastest] if fastest and ours.get("status") == "ok" else None
        out[w] = dict(desc=common.WORKLOADS[w]["desc"], unit=common.WORKLOADS[w]["unit"], frameworks=fws,
                      fastest_peer=fastest, ours_over_fastest_peer=ratio)
    return out


def _fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}" if x >= 1 else f"{x:.{digits - 1}f}" if x >= 0.01 else f"{x:.2g}"


def _cell(entry, key="median_s"):
    st = entry.get("status")
    if st == "ok":
        return _fmt(entry.get(key))
    return "n/a" if st == "unavailable" else "ERROR"


def format_table(summary, frameworks):
    """The printed report: median seconds (ours/fastest peer), throughput and peak RSS, then notes."""
    peers = [f for f in frameworks if f != "ours"]
    lines = []

    def table(title, header, rows):
        lines.append(title)
        lines.extend(_rows_to_lines(header, rows))
        lines.append("")

    rows = []
    for w, s in summary.items():
        row = [w] + [_cell(s["frameworks"][f]) for f in frameworks]
        if peers:
            r = s["ours_over_fastest_peer"]
            row += [f"{r:.2f}x" if r is not None else "-", s["fastest_peer"] or "-"]
        rows.append(row)
    header = ["workload"] + [f"{f} (s)" for f in frameworks] + (["ours/fastest", "fastest peer"] if peers else [])
    table("Median seconds per timed run (lower is better)", header, rows)

    rows = [[w, s["unit"]] + [_cell(s["frameworks"][f], "throughput") for f in frameworks]
            for w, s in summary.items()]
    table("Throughput (higher is better)", ["workload", "unit"] + frameworks, rows)

    rows = [[w] + [_fmt(s["frameworks"][f].get("peak_rss_mb"), 4) for f in frameworks] for w, s in summary.items()]
    table("Peak resident memory of the process, MiB", ["workload"] + frameworks, rows)

    notes = []
    for w, s in summary.items():
        for f in frameworks:
            e = s["frameworks"][f]
            if e["status"] != "ok":
                notes.append(f"{w} {f}: {e['status']}: {e.get('reason', '')}")
            elif e.get("partial"):
                notes.append(f"{w} {f}: {e['partial']}")
    if notes:
        lines.append("Notes:")
        lines += [f"  {n}" for n in notes]
        lines.append("")
    lines.append("Workloads:")
    lines += [f"  {w}: {s['desc']}" for w, s in summary.items()]
    return "\n".join(lines)


def least_slowdown(cores, busy, cpus):
    """The smallest slowdown a fair scheduler allows a process that keeps ``cores`` CPUs busy alone
    when ``busy`` always-runnable processes join it on ``cpus`` CPUs, its CPU time unchanged: it gets
    at most ``cpus * cores / (cores + busy)`` CPUs, so ``max(1, (cores + busy) / cpus)``."""
    return max(1.0, (cores + busy) / cpus)


def _rows_to_lines(header, rows):
    """A table's lines: the first column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for k, r in enumerate([header] + rows):
        lines.append("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)))
        if k == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    return lines


def format_busy_table(alone, shared, frameworks, busy, cpus=None):
    """Alone -> shared seconds and the slowdown, per workload and framework, and ours against the
    fastest peer when shared; then (with ``cpus``) each child's CPU use alone and shared and the least
    slowdown its CPU use alone allows (``least_slowdown``)."""
    lines = [f"Alone -> next to {busy} busy process{'es' if busy > 1 else ''}: median seconds (slowdown)"]
    header = ["workload"] + frameworks + (["ours/fastest shared"] if len(frameworks) > 1 else [])
    rows = []
    for w in alone:
        row = [w]
        for f in frameworks:
            a, b = alone[w]["frameworks"][f], shared[w]["frameworks"][f]
            if a["status"] == "ok" and b["status"] == "ok":
                row.append(f"{_fmt(a['median_s'])} -> {_fmt(b['median_s'])} ({b['median_s'] / a['median_s']:.2f}x)")
            else:
                row.append(f"{_cell(a)} -> {_cell(b)}")
        if len(frameworks) > 1:
            r = shared[w]["ours_over_fastest_peer"]
            row.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(row)
    lines += _rows_to_lines(header, rows)
    if cpus:
        lines += ["", f"CPU use: CPUs kept busy alone -> shared (CPU seconds alone -> shared); least slowdown "
                      f"(cores + {busy}) / {cpus} a fair scheduler allows"]
        rows = []
        for w in alone:
            row = [w]
            for f in frameworks:
                a, b = alone[w]["frameworks"][f], shared[w]["frameworks"][f]
                if a.get("cores") and b.get("cores"):
                    row.append(f"{a['cores']:.2f} -> {b['cores']:.2f} ({_fmt(a['cpu_s'])} -> {_fmt(b['cpu_s'])} s); "
                               f">= {least_slowdown(a['cores'], busy, cpus):.2f}x")
                else:
                    row.append("-")
            rows.append(row)
        lines += _rows_to_lines(["workload"] + frameworks, rows)
    return "\n".join(lines) + "\n"


def machine_info(threads):
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy as np

    return dict(date=datetime.datetime.now().isoformat(timespec="seconds"), host=platform.node(),
                platform=platform.platform(), cpu=cpu, cpus=os.cpu_count(), threads=threads,
                affinity_cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                python=platform.python_version(), numpy=np.__version__,
                load_avg=os.getloadavg() if hasattr(os, "getloadavg") else None)


def busy_cpus(info):
    """The CPUs the children and the busy processes share: the affinity mask's (else the machine's)."""
    return info.get("affinity_cpus") or info.get("cpus")


# ------------------------------------------------------------------------------------ main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog="See the module docstring (python -c 'help(...)') or benchmarks/README.md.")
    ap.add_argument("--peer-python", help="Python of the peer environment (keras, tensorflow, jax, torch)")
    ap.add_argument("--only", help=f"comma-separated workloads (default: all of {','.join(common.WORKLOADS)})")
    ap.add_argument("--frameworks", help=f"comma-separated frameworks (default: ours, plus {','.join(PEERS)} "
                                         "with --peer-python)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--threads", type=int, default=common.THREADS_DEFAULT)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child process (default 3600)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the harness (times mean nothing)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--table-from", metavar="JSON", help="print the table of an earlier --json file and exit")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="also run every child next to N busy-looping processes and report the slowdown")
    args = ap.parse_args(argv)
    if args.table_from:
        return args
    workloads = args.only.split(",") if args.only else list(common.WORKLOADS)
    bad = [w for w in workloads if w not in common.WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {', '.join(bad)}; expected some of {', '.join(common.WORKLOADS)}")
    if args.frameworks:
        frameworks = args.frameworks.split(",")
    else:
        frameworks = ["ours"] + (PEERS if args.peer_python else [])
    bad = [f for f in frameworks if f not in FRAMEWORKS]
    if bad:
        ap.error(f"unknown framework(s) {', '.join(bad)}; expected some of {', '.join(FRAMEWORKS)}")
    if any(FRAMEWORKS[f][0] for f in frameworks):
        if not args.peer_python:
            ap.error(f"frameworks {', '.join(f for f in frameworks if FRAMEWORKS[f][0])} need --peer-python")
        if not (os.path.isfile(args.peer_python) and os.access(args.peer_python, os.X_OK)):
            ap.error(f"--peer-python: expected an executable Python, received {args.peer_python!r}")
    if args.repeats < 1 or args.processes < 1 or args.processes > args.repeats:
        ap.error(f"expected 1 <= --processes <= --repeats, received --processes {args.processes} "
                 f"--repeats {args.repeats}")
    if args.threads < 1:
        ap.error(f"--threads must be >= 1, received {args.threads}")
    if args.busy < 0:
        ap.error(f"--busy must be >= 0, received {args.busy}")
    args.workloads, args.framework_list = workloads, frameworks
    return args


def table_from_json(path):
    """The printed table again from a (possibly partial) ``--json`` file."""
    with open(path) as fh:
        doc = json.load(fh)
    text = format_table(doc["workloads"], doc["meta"]["frameworks"])
    if doc["meta"].get("busy"):
        text += "\n\n" + format_busy_table(doc["workloads"], doc["workloads_busy"], doc["meta"]["frameworks"],
                                          doc["meta"]["busy"], busy_cpus(doc["meta"]))
    return text


def main(argv=None):
    args = parse_args(argv)
    if args.table_from:
        print(table_from_json(args.table_from))
        return 0
    workloads, frameworks = args.workloads, args.framework_list
    per_process = split_repeats(args.repeats, args.processes)
    plan = schedule(workloads, frameworks, args.processes)
    info = machine_info(args.threads)
    runs = []
    t_start = time.perf_counter()
    command = "python benchmarks/run_benchmarks.py " + " ".join(shlex.quote(a) for a in
                                                                 (sys.argv[1:] if argv is None else argv))

    def write_json(complete):
        if not args.json:
            return
        doc = dict(meta=dict(info, command=command, repeats=args.repeats, processes=args.processes,
                             smoke=args.smoke, peer_python=args.peer_python, frameworks=frameworks,
                             workloads=workloads, busy=args.busy, complete=complete),
                   workloads=summarize([r for r in runs if not r["busy"]], workloads, frameworks), runs=runs)
        if args.busy:
            doc["workloads_busy"] = summarize([r for r in runs if r["busy"]], workloads, frameworks)
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, args.json)

    conditions = [0] + ([args.busy] if args.busy else [])
    steps = [(w, r, f, b) for (w, r, f) in plan for b in conditions]  # alone, then shared, back to back
    for k, (w, r, f, busy) in enumerate(steps, 1):
        python = args.peer_python if FRAMEWORKS[f][0] else sys.executable
        with BusyProcesses(busy) if busy else contextlib.nullcontext():
            res = run_child(f, w, python, per_process[r], args.smoke, args.threads, args.timeout)
        res["round"], res["busy"] = r, busy
        runs.append(res)
        if not args.quiet:
            what = (f"{statistics.median(res['times']):.3f} s" if res.get("status") == "ok"
                    else f"{res.get('status')}: {res.get('reason', '')}")
            print(f"[{k}/{len(steps)}] {w} {f}{f' (next to {busy} busy)' if busy else ''}: {what} "
                  f"(peak RSS {_fmt(res.get('peak_rss_mb'), 4)} MiB, wall {res['wall_s']:.1f} s)",
                  file=sys.stderr, flush=True)
        write_json(complete=False)  # after every child, so an interrupted run keeps what it measured
    summary = summarize([r for r in runs if not r["busy"]], workloads, frameworks)
    info["total_wall_s"] = time.perf_counter() - t_start
    info["load_avg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    header = (f"# {info['date']}  {info['cpu']}  ({info['cpus']} CPUs, {args.threads} threads)  "
              f"repeats={args.repeats} processes={args.processes}{'  SMOKE SIZES' if args.smoke else ''}\n"
              f"# {command}\n")
    text = format_table(summary, frameworks)
    if args.busy:
        shared = summarize([r for r in runs if r["busy"]], workloads, frameworks)
        text += "\n\n" + format_busy_table(summary, shared, frameworks, args.busy, busy_cpus(info))
    print(header + text)
    write_json(complete=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
