"""The apps' train commands as ``mpirun -np 2`` runs them (and as one process runs them), each
file write under the runs folder recorded.

``python tests/mpi_app_worker.py DATA RUNS``: runs ``zoo image train`` (the tiny test model),
``zoo text train`` and ``zoo forecast train`` on the small data the test made in DATA, each
writing a run folder under RUNS, through the ``zoo`` command's click entry point (so the test
models of tests/app_helpers.py are registered). An audit hook records every file this process
opens for writing, renames into place or creates under RUNS; the record goes to
``RUNS.writes_rank{r}.json`` (next to RUNS). Dropout is off so that 2 ranks train what one process
trains; matplotlib is hidden (no plots), to keep the test cheap."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def audit_writes(runs, record):
    runs = os.path.realpath(runs)

    def under(path):
        try:
            return os.path.realpath(os.fsdecode(path)).startswith(runs + os.sep)
        except (TypeError, ValueError):
            return False  # a file descriptor, not a path

    def hook(event, args):
        if event == "open" and args[0] is not None and under(args[0]):
            mode, flags = args[1], args[2]
            if (isinstance(mode, str) and set(mode) & set("wax+")) or (flags or 0) & WRITE_FLAGS:
                record.append(["open", os.path.realpath(os.fsdecode(args[0]))])
        elif event == "os.rename" and under(args[1]):
            record.append(["rename", os.path.realpath(os.fsdecode(args[1]))])
        elif event == "os.mkdir" and under(args[0]):
            record.append(["mkdir", os.path.realpath(os.fsdecode(args[0]))])

    sys.addaudithook(hook)


COMMANDS = {
    "image": ["image", "train", "{data}/images", "--model", "tiny_image_test", "--weights", "none", "--epochs", "2",
              "--batch-size", "8", "--lr", "0.05", "--augment", "flip,crop"],
    "text": ["text", "train", "{data}/texts.csv", "--model", "lstm", "--epochs", "3", "--embed-dim", "8", "--units",
             "8", "--lr", "0.02", "--batch-size", "16", "--patience", "10", "--dropout", "0"],
    "forecast": ["forecast", "train", "{data}/series.csv", "--target", "sales", "--lookback", "24", "--horizon", "6",
                 "--split", "0.6,0.2,0.2", "--model", "linear", "--epochs", "3"],
}


def main(data, runs):
    sys.modules["matplotlib"] = None  # no PNG plots: the apps' no-matplotlib path, seconds cheaper per process
    record = []
    audit_writes(runs, record)
    import tests.app_helpers  # noqa: F401  (registers tiny_image_test)
    from apps.cli import main as zoo
    from core import distribute

    for app, args in COMMANDS.items():
        zoo([a.format(data=data) for a in args] + ["-o", os.path.join(runs, app)], standalone_mode=False)
    with open(f"{runs}.writes_rank{distribute.rank()}.json", "w") as f:
        json.dump(record, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
