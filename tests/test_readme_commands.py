"""The README's app commands, run top to bottom as written, offline, in a scratch folder holding
a copy of apps/samples (the commands write runs/ and exports/ there). Each must exit 0 without a
traceback; a few answers are checked."""
import json
import shlex
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from apps.cli import main

ROOT = Path(__file__).resolve().parents[1]


def apps_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Apps (`zoo --help`)"):]
    block = section[section.index("```bash\n") + len("```bash\n"):]
    block = block[:block.index("```")]
    commands = []
    for line in block.splitlines():
        args = shlex.split(line, comments=True)
        if args:
            commands.append(args)
    return commands


def test_the_block_is_zoo_commands():
    cmds = apps_block()
    assert len(cmds) >= 8 and all(c[0] == "zoo" for c in cmds)
    assert ["zoo", "classify", "apps/samples/chelsea.jpg", "--top", "3"] in cmds


@pytest.mark.slow
def test_readme_app_commands_top_to_bottom(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise OSError(101, "Network is unreachable (networking disabled for this test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    shutil.copytree(ROOT / "apps" / "samples", tmp_path / "apps" / "samples")
    monkeypatch.chdir(tmp_path)
    outputs = {}
    for args in apps_block():
        if args[1] == "export":
            pytest.importorskip("onnx")
        r = CliRunner().invoke(main, args[1:])
        assert r.exit_code == 0, (args, r.output)
        assert "Traceback" not in r.output, args
        outputs[" ".join(args[1:3])] = r.stdout
    assert outputs["classify apps/samples/chelsea.jpg"].splitlines()[1].split()[1] == "cat"
    assert (tmp_path / "runs" / "img" / "model.h5").is_file() and (tmp_path / "runs" / "txt" / "model.h5").is_file()
    assert (tmp_path / "runs" / "img" / "evaluate_shapes" / "metrics.json").is_file()
    assert "precision" in outputs["image evaluate"] and "macro avg" in outputs["text evaluate"]
    assert (tmp_path / "exports" / "img.onnx").is_file()
    assert 0 <= json.loads(outputs["demo --epochs"])["accuracy"] <= 1
