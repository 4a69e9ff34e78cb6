"""Run one keras-io program of this folder in a fresh working directory and print its result line.

    python run_program.py PROGRAM.py WORKDIR [--keras]

With --keras the program's imports are rewritten to the real Keras (`import core as keras` ->
`import keras`, `from core...` -> `from keras...`): that is how the reference numbers in
tests/fixtures/keras_programs_reference.json were made (with Keras 3.15.1, TensorFlow backend)."""
import os
import re
import runpy
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def keras_source(src: str) -> str:
    src = re.sub(r"^import core as keras$", "import keras", src, flags=re.M)
    src = re.sub(r"^from core(\.\w+)? import", lambda m: f"from keras{m.group(1) or ''} import", src, flags=re.M)
    return src


def main():
    program, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    src = program.read_text()
    if "--keras" in sys.argv:
        src = keras_source(src)
    target = workdir / program.name
    target.write_text(src)
    shutil.copy(HERE / "kp_data.py", workdir / "kp_data.py")
    os.environ.setdefault("ZOO_SHARED_DATA", str(HERE.parents[2].parent / "shared" / "data"))
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    sys.argv = [str(target)]
    runpy.run_path(str(target), run_name="__main__")


if __name__ == "__main__":
    main()
