"""Safe access to HDF5 weight files, shared by every HDF5 reader (this project's format and the
Keras layouts): a weight file reads only itself, and nothing it merely declares is allocated.

* :func:`check_hdf5_file` walks every link once when a file is opened and refuses soft, external
  and user-defined links, datasets stored in external files, virtual datasets and datasets that
  need a filter plugin (a shared library HDF5 would load), naming the object.
* :class:`LazyDataset` stands for one weight: its shape and dtype are known (and the dtype vetted:
  string, complex, compound and object data are refused, never cast) before any data is read, so
  callers compare shapes with the model first; ``np.asarray(lazy)`` reads it.
* The bytes read from one opened file are bounded by the file's size (:class:`ReadBudget`): a
  compressed or unallocated dataset that would expand past it is refused before it is read.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import UnsafeWeightFileError, WeightFileError

# numeric kinds a weight may have: bool, signed/unsigned int, float
_NUMERIC_KINDS = "biuf"
# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) and h5py's lzf;
# any other id makes the library look for a plugin library to load
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6, 32000}


def _h5py():
    import h5py

    return h5py


def check_hdf5_file(f, path) -> None:
    """Refuse ``f`` (an open h5py File) if any link is not a hard link inside the file or any dataset
    has external storage, is virtual or needs a filter plugin. Raises :class:`UnsafeWeightFileError`
    naming the object."""
    h5py = _h5py()
    found = []

    def visit(name, link):
        if not isinstance(link, h5py.HardLink):
            kind = {h5py.SoftLink: "a soft link", h5py.ExternalLink: "an external link"}.get(type(link),
                                                                                          "a user-defined link")
            target = getattr(link, "path", "")
            if isinstance(link, h5py.ExternalLink):
                target = f"{link.filename}:{link.path}"
            found.append(f"'/{name}' is {kind} (to {target!r}); a weight file may hold hard links only")
            return True
        obj = f.get(name)
        if isinstance(obj, h5py.Dataset):
            if obj.external:
                files = sorted({e[0] for e in obj.external})
                found.append(f"dataset '/{name}' keeps its data in external file(s) {files[:3]}")
                return True
            if obj.is_virtual:
                found.append(f"dataset '/{name}' is a virtual dataset (its data lives in other datasets or files)")
                return True
            plist = obj.id.get_create_plist()
            unknown = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            unknown = [fid for fid in unknown if fid not in _BUILTIN_FILTERS]
            if unknown:
                found.append(f"dataset '/{name}' needs HDF5 filter plugin(s) {unknown}, which would be loaded "
                             "as shared libraries; only HDF5's built-in filters are read")
                return True
        return None

    try:
        f.visititems_links(visit)
    except WeightFileError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, SystemError) as e:
        raise WeightFileError(f"cannot walk the HDF5 file's links: {type(e).__name__}: {e}", path) from e
    if found:
        raise UnsafeWeightFileError(found[0] + " (refused: a weight file must read only itself)", path)


class ReadBudget:
    """The bytes the readers may still take from one file: its size. Weights are stored raw, so an
    honest file never declares more data than it has bytes."""

    def __init__(self, path, h5file=None):
        """``h5file``: the open h5py File (its size is taken from HDF5, which also covers files
        opened from memory or a file object); else the size of ``path`` on disk."""
        self.path = path
        size = None
        if h5file is not None:
            try:
                size = int(h5file.id.get_filesize())
            except (AttributeError, OSError, ValueError, RuntimeError):
                size = None
        if size is None:
            try:
                size = os.path.getsize(path)
            except (OSError, TypeError):
                size = 0
        self.left = self.size = size

    def take(self, nbytes, where):
        if nbytes > self.left:
            raise UnsafeWeightFileError(
                f"dataset {where} declares {nbytes} bytes of data, more than the {self.size}-byte file holds "
                "beyond what was already read (compressed or unallocated data is not expanded)", self.path)
        self.left -= nbytes


class LazyDataset:
    """One HDF5 dataset as a weight: ``shape``/``dtype`` without reading; ``np.asarray`` reads it
    (bfloat16 bits widened to float32), charged to the file's :class:`ReadBudget`."""

    __array_priority__ = 0

    def __init__(self, ds, path, where, budget, bf16=False):
        dt = ds.dtype
        raw_bf16 = bf16 and dt.itemsize == 2 and dt.kind in "uiV" and dt.fields is None
        if not raw_bf16 and (dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None):
            raise WeightFileError(f"dataset {where} has dtype {dt} ({_kind_name(dt)}); weights must be "
                                  "numeric (bool, int or float) and are never cast from other types", path)
        self.ds, self.path, self.where, self.budget, self.bf16 = ds, path, where, budget, bf16
        self.shape = tuple(int(n) for n in ds.shape)
        self.dtype = np.dtype(np.float32) if bf16 and dt.itemsize == 2 else dt
        self._value = None

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=object)) * self.ds.dtype.itemsize

    def read(self) -> np.ndarray:
        if self._value is None:
            self.budget.take(self.nbytes, self.where)
            try:
                arr = np.asarray(self.ds[()])
            except (OSError, KeyError, ValueError, TypeError, RuntimeError, SystemError) as e:
                raise WeightFileError(f"cannot read dataset {self.where} (truncated or corrupted file?): "
                                      f"{type(e).__name__}: {e}", self.path) from e
            if self.bf16 and arr.dtype.itemsize == 2:
                bits = np.ascontiguousarray(arr).view(np.uint16)
                arr = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
            self._value = arr
        return self._value

    def __array__(self, dtype=None, copy=None):
        arr = self.read()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __repr__(self):
        return f"LazyDataset({self.where}, shape={self.shape}, dtype={self.dtype})"


def _kind_name(dt):
    if dt.fields is not None:
        return "compound"
    return {"S": "byte string", "U": "string", "O": "object", "c": "complex", "V": "opaque",
            "M": "datetime", "m": "timedelta"}.get(dt.kind, dt.kind)


def materialize(structure):
    """Replace every :class:`LazyDataset` in nested lists/tuples by its array (reading it)."""
    if isinstance(structure, LazyDataset):
        return structure.read()
    if isinstance(structure, list):
        return [materialize(v) for v in structure]
    if isinstance(structure, tuple):
        return tuple(materialize(v) for v in structure)
    return structure
