"""The ``zoo`` command-line apps."""
import core  # noqa: F401  (before any app imports NumPy: OpenBLAS's thread settings, core/host_memory.py)
