"""The install declares every package folder, so `pip install .` ships all the code."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def declared_packages():
    text = (ROOT / "pyproject.toml").read_text()
    m = re.search(r"^packages = \[(.*?)\]", text, re.M | re.S)
    return {p.strip().strip('"') for p in m.group(1).split(",") if p.strip()}


def test_every_package_folder_is_declared():
    found = set()
    for top in ("core", "zoo", "apps"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    missing = found - declared_packages()
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {sorted(missing)}"


def test_manifest_is_installed_as_data():
    assert '"share/zoo" = ["weights_manifest.json"]' in (ROOT / "pyproject.toml").read_text()
