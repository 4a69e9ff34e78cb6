"""The HTTP server behind ``zoo serve``: a JSON API over a model made by the apps (or a cached
registry classifier), on the standard library's ``ThreadingHTTPServer``.

Request threads decode and preprocess their inputs with the apps' own functions, then hand the
items to one worker thread that owns the model: it gathers items of concurrent requests (up to
``max_batch``, waiting at most ``batch_timeout_ms`` for more), runs one predict for them and gives
each request its slice.

>>> handler = load_handler("runs/pets/model.h5")
>>> server = ModelServer(handler, "127.0.0.1", 8000)
>>> server.start()          # background threads; server.url, server.stop()

The package: :mod:`.handlers` (per model kind), :mod:`.loading` (model spec -> handler),
:mod:`.batching` (the worker thread), :mod:`.server` (HTTP), :mod:`.errors`.
"""
from __future__ import annotations

from .batching import INTERNAL_ERROR, Batcher
from .errors import BadRequest, HTTPError, PayloadTooLarge, ServeError
from .handlers import DEFAULT_TOP, ArrayHandler, ImageHandler, ModelHandler, SeriesHandler, TextHandler
from .loading import load_handler
from .server import DEFAULT_MAX_REQUEST_BYTES, ROUTES, ModelServer

__all__ = ["ModelServer", "load_handler", "Batcher", "ModelHandler", "ImageHandler", "TextHandler",
           "SeriesHandler", "ArrayHandler", "ServeError", "HTTPError", "BadRequest", "PayloadTooLarge",
           "DEFAULT_TOP", "DEFAULT_MAX_REQUEST_BYTES", "INTERNAL_ERROR", "ROUTES"]
