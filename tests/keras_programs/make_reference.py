"""Run every program of this folder under Keras 3.15.1 and write their result lines to
tests/fixtures/keras_programs_reference.json.

    /path/to/keras-venv/bin/python tests/keras_programs/make_reference.py

(the venv: pip install keras==3.15.1 tensorflow-cpu==2.21.0; never a dependency of the project).
Programs written for the engine's own gradient API are not run (see OURS_ONLY in the test)."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "tests" / "fixtures" / "keras_programs_reference.json"
SKIP = {"kp_data", "run_program", "make_reference", "customizing_what_happens_in_fit"}


def main():
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    only = set(sys.argv[1:])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    for program in sorted(HERE.glob("*.py")):
        if program.stem in SKIP or (only and program.stem not in only):
            continue
        with tempfile.TemporaryDirectory() as work:
            p = subprocess.run([sys.executable, str(HERE / "run_program.py"), str(program), work, "--keras"],
                               capture_output=True, text=True, env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith("KP_RESULT ")]
        if p.returncode != 0 or not lines:
            print(f"{program.stem}: FAILED\n{(p.stdout + p.stderr)[-3000:]}")
            continue
        results[program.stem] = json.loads(lines[-1][len("KP_RESULT "):])
        print(f"{program.stem}: ok")
    OUT.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
