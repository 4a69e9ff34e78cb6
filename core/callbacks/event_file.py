"""TensorBoard event files without TensorFlow: the TFRecord framing, the few ``Event`` protobuf
messages summaries need, and a reader for them.

A file is a sequence of records, each ``uint64 length | uint32 masked_crc32c(length) | data |
uint32 masked_crc32c(data)`` (little-endian), where the mask is TFRecord's
``((crc >> 15) | (crc << 17)) + 0xa282ead8``. Each record's data is a serialized
``tensorflow.Event``; the first one carries ``file_version = "brain.Event:2"``. Summaries are
written as TensorFlow 2 writes them: a ``Summary.Value`` with a tensor and the plugin's metadata
(``scalars``: a float32 scalar; ``histograms``: a float64 ``[k, 3]`` tensor of
``(left edge, right edge, count)``; ``graph_keras_model``: the model's JSON config as a string).
"""
from __future__ import annotations

import os
import socket
import struct
import threading
import time

import numpy as np

__all__ = ["crc32c", "masked_crc32c", "EventFileWriter", "read_records", "read_events", "EventFormatError"]

FILE_VERSION = "brain.Event:2"
DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7
DATA_CLASS_SCALAR, DATA_CLASS_TENSOR = 1, 2


class EventFormatError(ValueError):
    """An event file whose framing or checksums are wrong."""


# ----------------------------------------------------------------------------- CRC32C
def _crc_table():
    poly = 0x82F63B78   # Castagnoli, reflected
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return [int(v) for v in table]


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TFRecord uses."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


# ----------------------------------------------------------------------------- protobuf encoding
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _bytes_field(field, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _varint_field(field, n: int) -> bytes:
    return _key(field, 0) + _varint(n)


def _double_field(field, x: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", x)


def _metadata(plugin, content=b"", data_class=None) -> bytes:
    plugin_data = _bytes_field(1, plugin.encode()) + (_bytes_field(2, content) if content else b"")
    out = _bytes_field(1, plugin_data)
    if data_class is not None:
        out += _varint_field(4, data_class)
    return out


def _shape(dims) -> bytes:
    return b"".join(_bytes_field(2, _varint_field(1, int(d))) for d in dims)


def scalar_value(tag: str, value: float) -> bytes:
    tensor = _varint_field(1, DT_FLOAT) + _bytes_field(2, b"") + _bytes_field(5, struct.pack("<f", float(value)))
    return _bytes_field(1, tag.encode()) + _bytes_field(9, _metadata("scalars", data_class=DATA_CLASS_SCALAR)) + \
        _bytes_field(8, tensor)


def histogram_buckets(values, bucket_count=30) -> np.ndarray:
    """``[k, 3]`` float64 ``(left, right, count)`` as TensorFlow 2's histogram summary: ``bucket_count``
    equal buckets from min to max (one bucket ``[v - 0.5, v + 0.5]`` when all values are ``v``;
    an empty ``[0, 3]`` array for no values)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.zeros((0, 3))
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        return np.array([[lo - 0.5, hi + 0.5, float(x.size)]])
    counts, edges = np.histogram(x, bins=bucket_count, range=(lo, hi))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def histogram_value(tag: str, values, bucket_count=30) -> bytes:
    buckets = histogram_buckets(values, bucket_count)
    tensor = (_varint_field(1, DT_DOUBLE) + _bytes_field(2, _shape(buckets.shape))
              + _bytes_field(4, buckets.astype("<f8").tobytes()))
    return _bytes_field(1, tag.encode()) + _bytes_field(9, _metadata("histograms", data_class=DATA_CLASS_TENSOR)) + \
        _bytes_field(8, tensor)


def text_tensor_value(tag: str, text: str, plugin: str, content: bytes = b"") -> bytes:
    tensor = _varint_field(1, DT_STRING) + _bytes_field(2, b"") + _bytes_field(8, text.encode("utf-8"))
    return _bytes_field(1, tag.encode()) + _bytes_field(9, _metadata(plugin, content)) + _bytes_field(8, tensor)


def event(step=0, values=(), file_version=None, wall_time=None) -> bytes:
    out = _double_field(1, time.time() if wall_time is None else wall_time)
    if step:
        out += _varint_field(2, int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if values:
        out += _bytes_field(5, b"".join(_bytes_field(1, v) for v in values))
    return out


# ----------------------------------------------------------------------------- writer
class EventFileWriter:
    """Appends events to ``<logdir>/events.out.tfevents.<time>.<host>.<pid>.<n>.v2`` (created on
    first use, with the ``file_version`` event first). ``scalar``, ``histogram``; ``flush``/``close``."""

    _counter = 0
    _lock = threading.Lock()

    def __init__(self, logdir):
        self.logdir = str(logdir)
        self.path = None
        self._fh = None

    def _open(self):
        if self._fh is None:
            os.makedirs(self.logdir, exist_ok=True)
            with EventFileWriter._lock:
                EventFileWriter._counter += 1
                n = EventFileWriter._counter
            name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{n}.v2"
            self.path = os.path.join(self.logdir, name)
            self._fh = open(self.path, "ab")
            self._fh.write(frame_record(event(file_version=FILE_VERSION)))
        return self._fh

    def write_event(self, data: bytes):
        self._open().write(frame_record(data))

    def scalar(self, tag, value, step):
        self.write_event(event(step, [scalar_value(tag, value)]))

    def histogram(self, tag, values, step, bucket_count=30):
        self.write_event(event(step, [histogram_value(tag, values, bucket_count)]))

    def text_tensor(self, tag, text, step, plugin, content=b""):
        self.write_event(event(step, [text_tensor_value(tag, text, plugin, content)]))

    def flush(self):
        if self._fh is not None:
            self._fh.flush()

    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ----------------------------------------------------------------------------- reader
def read_records(path):
    """Yield each record's data of a TFRecord file, checking both CRCs of every record."""
    with open(path, "rb") as fh:
        offset = 0
        while True:
            header = fh.read(12)
            if not header:
                return
            if len(header) < 12:
                raise EventFormatError(f"{path}: truncated record header at byte {offset}")
            (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != crc:
                raise EventFormatError(f"{path}: length CRC mismatch at byte {offset}")
            remaining = os.fstat(fh.fileno()).st_size - offset - 12
            if length + 4 > remaining:
                raise EventFormatError(f"{path}: record at byte {offset} claims {length} bytes, {remaining} left")
            data = fh.read(length)
            (dcrc,) = struct.unpack("<I", fh.read(4))
            if masked_crc32c(data) != dcrc:
                raise EventFormatError(f"{path}: data CRC mismatch in the record at byte {offset}")
            offset += 12 + length + 4
            yield data


def _fields(buf):
    """[(field, wire type, value)] of one protobuf message (bytes for length-delimited fields)."""
    out, i, n = [], 0, len(buf)

    def varint(i):
        shift = result = 0
        while True:
            if i >= n:
                raise EventFormatError("truncated varint in an event")
            b = buf[i]
            result |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                return result, i
            shift += 7

    while i < n:
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            size, i = varint(i)
            value, i = buf[i:i + size], i + size
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise EventFormatError(f"unsupported protobuf wire type {wire} in an event")
        out.append((field, wire, value))
    return out


def _decode_tensor(buf):
    dtype, dims, content, floats, doubles, strings = None, [], None, [], [], []
    for f, w, v in _fields(buf):
        if f == 1:
            dtype = v
        elif f == 2:
            dims = [dict((ff, vv) for ff, _, vv in _fields(d)).get(1, 0) for ff, _, d in _fields(v) if ff == 2]
        elif f == 4:
            content = bytes(v)
        elif f == 5:
            floats += list(struct.unpack(f"<{len(v) // 4}f", v)) if w == 2 else list(struct.unpack("<f", v))
        elif f == 6:
            doubles += list(struct.unpack(f"<{len(v) // 8}d", v)) if w == 2 else list(struct.unpack("<d", v))
        elif f == 8:
            strings.append(bytes(v))
    if dtype == DT_STRING:
        return strings[0].decode("utf-8") if len(strings) == 1 and not dims else [s.decode("utf-8") for s in strings]
    np_dtype = {DT_FLOAT: "<f4", DT_DOUBLE: "<f8"}.get(dtype)
    if np_dtype is None:
        return None
    if content is not None:
        arr = np.frombuffer(content, dtype=np_dtype)
    else:
        arr = np.asarray(floats if dtype == DT_FLOAT else doubles, dtype=np_dtype)
    return arr.reshape(dims) if dims else arr.reshape(())


def read_events(path):
    """The events of a file, CRC-checked: ``[{"wall_time", "step", "file_version"?, "values":
    [{"tag", "plugin", "value"}]}]`` with scalars as floats, histograms as ``[k, 3]`` arrays,
    string tensors as text."""
    events = []
    for data in read_records(path):
        ev = {"wall_time": 0.0, "step": 0, "values": []}
        for f, _, v in _fields(data):
            if f == 1:
                ev["wall_time"] = struct.unpack("<d", v)[0]
            elif f == 2:
                ev["step"] = v
            elif f == 3:
                ev["file_version"] = bytes(v).decode()
            elif f == 5:
                for vf, _, val in _fields(v):
                    if vf != 1:
                        continue
                    item = {"tag": None, "plugin": None, "value": None}
                    for ff, _, x in _fields(val):
                        if ff == 1:
                            item["tag"] = bytes(x).decode()
                        elif ff == 2:
                            item["value"] = struct.unpack("<f", x)[0]
                        elif ff == 9:
                            for mf, _, m in _fields(x):
                                if mf == 1:
                                    item["plugin"] = next((bytes(p).decode() for pf, _, p in _fields(m) if pf == 1),
                                                          None)
                        elif ff == 8:
                            t = _decode_tensor(x)
                            item["value"] = float(t) if isinstance(t, np.ndarray) and t.ndim == 0 else t
                    ev["values"].append(item)
        events.append(ev)
    return events
