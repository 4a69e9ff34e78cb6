"""Weights shipped inside the package, so that a first run needs no network.

``resnet20.cifar10`` (the akamaster CIFAR-10 ResNet-20, BSD-2-Clause) is carried as package data,
converted from the manifest's ``resnet20-12fca82f.th`` into zoo's own weights file (the same
float32 values, by layer path); its licence travels beside it. ``zoo.create_model("resnet20",
weights="cifar10")`` reads it without touching the cache or the network. The files are read with
:mod:`importlib.resources`, so they are found in a source checkout, an installed wheel and a
``pip install --target`` folder alike.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

# manifest key -> the packaged files and where they come from
BUILTIN = {
    "resnet20.cifar10": {
        "file": "resnet20_cifar10.weights.h5",
        "license_file": "resnet20_cifar10.LICENSE.txt",
        "converted_from": "resnet20-12fca82f.th (sha256 12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8)",
        "dataset": "CIFAR-10",
    },
}


def is_builtin(key: str) -> bool:
    return key in BUILTIN


def _resource(name: str):
    return resources.files(__package__).joinpath("builtin", name)


def builtin_file(key: str) -> Path:
    """The packaged weights file of ``key`` (KeyError for a key that is not built in)."""
    res = _resource(BUILTIN[key]["file"])
    path = Path(str(res))
    if not path.is_file():
        raise FileNotFoundError(f"the built-in weights of {key!r} are missing from the installed package "
                                f"(expected {path}); reinstall zoo")
    return path


def license_text(key: str) -> str:
    """The licence of the built-in weights of ``key``."""
    return _resource(BUILTIN[key]["license_file"]).read_text(encoding="utf-8")


__all__ = ["BUILTIN", "is_builtin", "builtin_file", "license_text"]
