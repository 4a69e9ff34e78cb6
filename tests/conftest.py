import os
import sys

# Both `import fixture_utils` and `from tests.x import y` work, under `pytest` and `python -m pytest`.
_here = os.path.dirname(os.path.abspath(__file__))
for _p in (_here, os.path.dirname(_here)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
