"""setuptools hook (everything else is in pyproject.toml): the weight manifest lives at the repo
root, and each build copies it into the ``zoo.weights`` package as package data, so an installed
zoo (a wheel, ``pip install --target``) reads it with importlib.resources. One source, no copy in git."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MANIFEST = "weights_manifest.json"


class BuildPyWithManifest(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "zoo" / "weights" / MANIFEST
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(Path(__file__).resolve().parent / MANIFEST), str(target))


setup(cmdclass={"build_py": BuildPyWithManifest})
