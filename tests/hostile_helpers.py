"""Helpers for the hostile-input tests: run a snippet in a fresh interpreter and measure how much
its resident memory grew (peak RSS after minus RSS before the measured part)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PRELUDE = """
import json, resource, sys, time
def _rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * __import__('os').sysconf('SC_PAGE_SIZE') / 2**20
def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def run_measured(setup: str, measured: str, timeout=300):
    """Run ``setup`` then ``measured`` in a subprocess. ``measured`` must set ``result`` (JSON-able).
    Returns ``(result, peak_growth_mb, seconds)`` where peak growth is the peak RSS reached during
    ``measured`` above the RSS before it."""
    code = _PRELUDE + textwrap.dedent(setup) + textwrap.dedent(f"""
        _before = _rss_mb()
        _peak_before = _peak_mb()
        _t0 = time.perf_counter()
        """) + textwrap.dedent(measured) + textwrap.dedent("""
        _dt = time.perf_counter() - _t0
        print('@@RESULT@@' + json.dumps({'result': result, 'growth': max(0.0, _peak_mb() - max(_before, _peak_before)),
                                         'seconds': _dt}))
        """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(ROOT))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"subprocess failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    out = json.loads(lines[-1][len("@@RESULT@@"):])
    return out["result"], out["growth"], out["seconds"]
