"""Errors of ``zoo serve``: a model it cannot load, and answers other than 200."""
from __future__ import annotations


class ServeError(Exception):
    """A model the server cannot load; the message says why."""


class HTTPError(Exception):
    """An answer other than 200, with a message for the client."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status, self.headers = int(status), dict(headers or {})


class BadRequest(HTTPError):
    def __init__(self, message):
        super().__init__(400, message)


class PayloadTooLarge(HTTPError):
    """413: a request over one of the server's budgets (bytes, pixels)."""

    def __init__(self, message):
        super().__init__(413, message)
