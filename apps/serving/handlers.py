"""Model handlers: what the server needs of a model (decode a request's items in the request
thread, predict a list of items in the worker thread, format one result, describe itself), for
image classifiers, text classifiers, forecasters and any other single-input model."""
from __future__ import annotations

import base64
import binascii
import math
from pathlib import Path

import numpy as np

from .decoding import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_REQUEST_PIXELS, decode, open_images
from .errors import BadRequest, ServeError

DEFAULT_TOP = 3


# --------------------------------------------------------------------------- JSON input helpers
def _numbers(where, value, what):
    """A float64 array from JSON numbers (nested lists), or BadRequest naming what was expected."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise BadRequest(f"{where}: expected {what}, got lists of different lengths") from None
    if arr.size == 0:
        raise BadRequest(f"{where}: expected {what}, got an empty list")
    if arr.dtype.kind not in "iuf":
        got = ("null values or lists of different lengths" if arr.dtype == object else
               "strings" if arr.dtype.kind in "US" else "true/false" if arr.dtype.kind == "b" else str(arr.dtype))
        raise BadRequest(f"{where}: expected {what}, got {got}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise BadRequest(f"{where}: expected {what}, got non-finite values")
    return arr


def _shape_text(shape):
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _top_k(row, labels, top):
    order = np.argsort(-np.asarray(row), kind="stable")[:top]
    return [{"label": labels[j], "probability": _finite(row[j])} for j in order]


def _input_shape(model):
    """The batch shape of the model's single input (Functional and Sequential models)."""
    shapes = model._expected_input_shapes() if hasattr(model, "_expected_input_shapes") else None
    if not shapes:
        raise ServeError(f"model {model.name!r} declares no input shape; the server needs one")
    if len(shapes) != 1:
        raise ServeError(f"model {model.name!r} has {len(shapes)} inputs; the server handles single-input models")
    return tuple(shapes[0])


def _check_inputs(arr, expected, where="inputs"):
    """``arr`` (N, ...) against the model input shape (None, ...): BadRequest on a mismatch."""
    want = _shape_text(expected[1:])
    if arr.ndim != len(expected) or any(e is not None and e != g for e, g in zip(expected[1:], arr.shape[1:])):
        raise BadRequest(f"{where}: expected a list of arrays of shape {want} (the model input without the batch "
                         f"axis), got shape {_shape_text(arr.shape[1:])} per item")


def _stack_by_shape(items, fn):
    """Run ``fn`` on items stacked by shape (one call per distinct shape); per-item results in order."""
    out = [None] * len(items)
    groups = {}
    for i, item in enumerate(items):
        groups.setdefault(item.shape, []).append(i)
    for idx in groups.values():
        res = fn(np.stack([items[i] for i in idx]))
        for j, i in enumerate(idx):
            out[i] = res[j]
    return out


# --------------------------------------------------------------------------- model handlers
class ModelHandler:
    """What the server needs of a model: decode a request into items (request thread), predict a
    list of items (worker thread), turn one item's result into JSON, describe itself."""

    kind = "array"
    fields = ("inputs",)
    labels = None

    def __init__(self, model, source):
        self.model, self.source = model, str(source)
        self.name = getattr(model, "name", None) or Path(self.source).stem

    # request thread
    def decode(self, field, value):
        raise NotImplementedError

    # worker thread
    def predict(self, items):
        raise NotImplementedError

    def format(self, result, top):
        raise NotImplementedError

    def options(self, payload, query):
        """Per-request options (``top`` for classifiers)."""
        return {}

    def input_spec(self):
        return {}

    def output_spec(self):
        return {}

    def metadata(self):
        return {"model": self.name, "source": self.source, "kind": self.kind, "labels": self.labels,
                "input": self.input_spec(), "output": self.output_spec()}


class _ClassifierMixin:
    default_top = DEFAULT_TOP

    def options(self, payload, query):
        top = payload.get("top", query.get("top", [None])[-1] if query.get("top") else None)
        if top is None:
            top = self.default_top
        elif isinstance(top, str) and top.strip().isdigit():
            top = int(top)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise BadRequest(f"top: expected a whole number >= 1, got {top!r}")
        return {"top": min(top, len(self.labels))}

    def format(self, result, top):
        return _top_k(result, self.labels, top)

    def output_spec(self):
        return {"type": "top_k", "num_classes": len(self.labels), "default_top": self.default_top,
                "format": "per item, a list of {label, probability}, most probable first"}


class ImageHandler(_ClassifierMixin, ModelHandler):
    """A classifier of images: ``images`` (base64 files) or ``inputs`` (preprocessed arrays)."""

    kind = "image"
    fields = ("images", "inputs")
    max_image_pixels = DEFAULT_MAX_IMAGE_PIXELS       # the server sets its configured budgets
    max_request_pixels = DEFAULT_MAX_REQUEST_PIXELS

    def __init__(self, model, source, preprocess, labels, spec):
        super().__init__(model, source)
        self.preprocess, self.labels, self.spec = preprocess, list(labels), dict(spec or {})
        self.shape = _input_shape(model)

    def decode(self, field, value):
        if field == "inputs":
            arr = _numbers("inputs", value, f"a list of arrays of shape {_shape_text(self.shape[1:])}")
            _check_inputs(arr, self.shape)
            return list(arr.astype(np.float32))
        blobs = []
        for i, s in enumerate(value):
            if not isinstance(s, str):
                raise BadRequest(f"images[{i}]: expected a base64 string of an image file, got {type(s).__name__}")
            if s.startswith("data:") and "," in s[:200]:  # a data URL: data:image/png;base64,....
                s = s.split(",", 1)[1]
            try:
                blobs.append(base64.b64decode(s, validate=True))
            except (binascii.Error, ValueError):
                raise BadRequest(f"images[{i}]: not valid base64 (expected the bytes of an image file, "
                                 "base64-encoded)") from None
        need = self._decode_size()
        # every header is checked against the pixel budgets before any image is decoded
        opened = open_images(blobs, need, self.max_image_pixels, self.max_request_pixels)
        del blobs
        items = []
        for i, img in enumerate(opened):
            items.append(self.preprocess([decode(img, need, f"images[{i}]")])[0])
            opened[i] = None
        return items

    def _decode_size(self):
        """(height, width) the preprocessing resizes to at least; None when it keeps the image size."""
        resize_to, crop = self.spec.get("resize"), self.spec.get("crop")
        if resize_to and crop:
            return (int(resize_to), int(resize_to))
        h, w = self.shape[1:3]
        return None if None in (h, w) else (int(h), int(w))

    def predict(self, items):
        from apps.classify_cmd import _probabilities

        return _stack_by_shape(items, lambda x: _probabilities(self.model.predict(x, batch_size=len(x), verbose=0)))

    def input_spec(self):
        h, w = self.shape[1:3]
        size = f"resized to {h}x{w}" if None not in (h, w) else "kept at their size"
        return {"shape": list(self.shape), "dtype": "float32", "image_size": [h, w], "preprocessing": self.spec,
                "fields": {"images": "base64-encoded image files (PNG, JPEG, ...) within the pixel budgets in "
                                     f"'limits': decoded to RGB, {size} and preprocessed as in 'preprocessing'",
                           "inputs": f"arrays of shape {_shape_text(self.shape[1:])}, already preprocessed"}}


class TextHandler(_ClassifierMixin, ModelHandler):
    """A text classifier made by ``zoo text train``: ``texts`` (raw strings)."""

    kind = "text"
    fields = ("texts",)

    def __init__(self, model, source, labels, tokenizer, max_length):
        super().__init__(model, source)
        self.labels, self.tokenizer, self.max_length = list(labels), tokenizer, int(max_length)

    def decode(self, field, value):
        for i, t in enumerate(value):
            if not isinstance(t, str):
                raise BadRequest(f"texts[{i}]: expected a string, got {type(t).__name__}")
        return list(self.tokenizer.encode_batch(value, self.max_length))

    def predict(self, items):
        from apps.text_models import predict_ids

        return list(predict_ids(self.model, items, batch_size=max(len(items), 1), pad_id=self.tokenizer.pad_id))

    def input_spec(self):
        vocab = self.model.assets.get("vocab") or {}
        return {"shape": [None, None], "dtype": "int64", "max_length": self.max_length,
                "text_model": self.model.assets.get("text_model"),
                "preprocessing": {"tokenizer": vocab.get("type", "word"), "vocab_size": len(vocab.get("tokens", [])),
                                  "max_length": self.max_length, "pad_id": int(self.tokenizer.pad_id)},
                "fields": {"texts": f"raw strings (the first {self.max_length} tokens are used)"}}


class SeriesHandler(ModelHandler):
    """A forecaster made by ``zoo forecast train``: ``series`` (each its history, at least lookback rows)."""

    kind = "series"
    fields = ("series",)

    def __init__(self, model, source, assets):
        from apps.forecasting.windows import Scaler

        super().__init__(model, source)
        self.assets = assets
        self.targets = list(assets["columns"]["targets"])
        self.features = list(assets["columns"].get("features") or [])
        self.lookback, self.horizon = int(assets["lookback"]), int(assets["horizon"])
        self.scaler = Scaler.from_dict(assets["scaler"])

    def _columns_hint(self):
        cols = self.targets + self.features
        if len(cols) == 1:
            return f"a list of at least {self.lookback} numbers (the history of {cols[0]!r})"
        return (f"rows [{', '.join(cols)}] (at least {self.lookback} of them) or an object {{column: values}} "
                f"with the columns {cols}")

    def decode(self, field, value):
        from apps.forecasting.windows import make_inputs

        cols = self.targets + self.features
        C, L = len(self.targets), self.lookback
        items = []
        for i, s in enumerate(value):
            where = f"series[{i}]"
            if isinstance(s, dict):
                missing, unknown = [c for c in cols if c not in s], [k for k in s if k not in cols]
                if missing or unknown:
                    raise BadRequest(f"{where}: expected the columns {cols}" + (f"; missing {missing}" if missing else "")
                                     + (f"; unknown {unknown}" if unknown else ""))
                arrs = [_numbers(f"{where}[{c!r}]", s[c], "a list of numbers") for c in cols]
                if any(a.ndim != 1 for a in arrs) or len({len(a) for a in arrs}) != 1:
                    raise BadRequest(f"{where}: expected one flat list of numbers per column, all of the same length, "
                                     f"got lengths {[len(a) for a in arrs]}")
                values = np.stack(arrs, axis=1)
            elif isinstance(s, list):
                values = _numbers(where, s, self._columns_hint())
                if values.ndim == 1 and len(cols) == 1:
                    values = values[:, None]
                elif values.ndim != 2 or values.shape[1] != len(cols):
                    raise BadRequest(f"{where}: expected {self._columns_hint()}, got an array of shape "
                                     f"{list(values.shape)}")
            else:
                raise BadRequest(f"{where}: expected {self._columns_hint()}, got {type(s).__name__}")
            if len(values) < L:
                raise BadRequest(f"{where} has {len(values)} rows; the model needs at least its lookback of {L} "
                                 f"(the last {L} are used)")
            allv = self.scaler.transform(values[-L:])
            items.append(make_inputs(allv[:, :C], allv[:, C:], np.array([L], np.int64), L))  # (C, L, 1 + F)
        return items

    def predict(self, items):
        from apps.forecasting.windows import unfold

        C = len(self.targets)
        out = self.model.predict(np.concatenate(items), batch_size=len(items) * C, verbose=0)
        return list(self.scaler.inverse(unfold(np.asarray(out), C), slice(0, C)))  # (n, H, C)

    def format(self, result, top=None):
        return {t: [_finite(v) for v in result[:, j]] for j, t in enumerate(self.targets)}

    def input_spec(self):
        return {"shape": [None, self.lookback, 1 + len(self.features)], "dtype": "float32",
                "lookback": self.lookback, "targets": self.targets, "features": self.features,
                "preprocessing": {"scaler": "z-score with the training statistics (in the model file)",
                                  "norm": self.assets["forecast"].get("norm")},
                "fields": {"series": "per series, its history in the data's units: " + self._columns_hint()
                                     + "; the last lookback rows are used, gaps are not filled"}}

    def output_spec(self):
        return {"type": "forecast", "horizon": self.horizon, "targets": self.targets,
                "format": "per series, {target: [horizon values]} in the data's units"}


class ArrayHandler(ModelHandler):
    """Any other single-input model: ``inputs`` (arrays of the model's input shape)."""

    kind = "array"
    fields = ("inputs",)
    default_top = DEFAULT_TOP

    def __init__(self, model, source, labels=None):
        super().__init__(model, source)
        self.labels = list(labels) if labels else None
        self.shape = _input_shape(model)
        first = (getattr(model, "_flat_inputs", None) or [None])[0]
        self.dtype = str(getattr(first, "dtype", None) or "float32")

    def options(self, payload, query):
        return _ClassifierMixin.options(self, payload, query) if self.labels else {}

    def decode(self, field, value):
        arr = _numbers("inputs", value, f"a list of arrays of shape {_shape_text(self.shape[1:])}")
        _check_inputs(arr, self.shape)
        return list(arr.astype(self.dtype if np.dtype(self.dtype).kind in "iuf" else np.float32))

    def predict(self, items):
        def run(x):
            out = self.model.predict(x, batch_size=len(x), verbose=0)
            if self.labels:
                from apps.classify_cmd import _probabilities

                return _probabilities(out)
            if isinstance(out, dict):
                return [{k: v[i] for k, v in out.items()} for i in range(len(x))]
            if isinstance(out, (list, tuple)):
                return [[o[i] for o in out] for i in range(len(x))]
            return out

        return _stack_by_shape(items, run)

    def format(self, result, top=None):
        if self.labels:
            return _top_k(result, self.labels, top)

        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            a = np.asarray(v, np.float64)
            return [plain(x) for x in a] if a.ndim else _finite(a)

        return plain(result)

    def input_spec(self):
        return {"shape": list(self.shape), "dtype": self.dtype, "preprocessing": None,
                "fields": {"inputs": f"arrays of shape {_shape_text(self.shape[1:])}, fed to the model as they are"}}

    def output_spec(self):
        if self.labels:
            return _ClassifierMixin.output_spec(self)
        return {"type": "raw", "format": "per item, the model's output for it"}
