"""Load the committed reference fixtures: ``tests/fixtures/<family>.json`` + ``<family>.npz``.

    from tests.fixture_utils import load_cases
    for case in load_cases("conv", op="conv2d"):
        case.name, case.params, case.arrays["x"], case.arrays["y"]

Inputs are stored float32, reference outputs float64 (see tests/fixtures/README.md).
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pytest

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


@dataclass
class Case:
    name: str
    params: dict
    arrays: dict = field(default_factory=dict)

    def __repr__(self):  # short ids in pytest output
        return self.name


def fixture_available(family: str) -> bool:
    return all(os.path.exists(os.path.join(FIXTURE_DIR, f"{family}.{ext}")) for ext in ("json", "npz"))


@functools.lru_cache(maxsize=None)
def _load(family: str):
    with open(os.path.join(FIXTURE_DIR, f"{family}.json")) as f:
        meta = json.load(f)
    with np.load(os.path.join(FIXTURE_DIR, f"{family}.npz")) as z:
        data = {k: z[k] for k in z.files}
    return meta, data


def load_cases(family: str, op=None) -> list:
    """All cases of ``family`` (those whose ``params["op"]`` is ``op`` / in ``op`` when given).
    Returns [] when the fixture files do not exist (tests then skip via ``require``)."""
    if not fixture_available(family):
        return []
    meta, data = _load(family)
    ops = None if op is None else ({op} if isinstance(op, str) else set(op))
    out = []
    for c in meta["cases"]:
        if ops is not None and c["params"].get("op") not in ops:
            continue
        arrays = {a: data[f"{c['name']}/{a}"].copy() for a in c["arrays"]}
        out.append(Case(c["name"], dict(c["params"]), arrays))
    return out


def case_params(family: str, op=None):
    """``pytest.param`` list for ``@pytest.mark.parametrize("case", ...)``, ids = case names;
    a single skipped param when the fixtures are missing."""
    cs = load_cases(family, op)
    if not cs:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"fixtures for {family!r} not found"))]
    return [pytest.param(c, id=c.name) for c in cs]
