"""Interactive logging: whether messages and progress bars go to stdout (the default) or to the
``logging`` module (``disable_interactive_logging``), as ``keras.utils`` switches them."""
from __future__ import annotations

import logging
import sys

_state = {"interactive": True}
logger = logging.getLogger("core")


def enable_interactive_logging():
    """Messages and progress bars are written to stdout."""
    _state["interactive"] = True


def disable_interactive_logging():
    """Messages go to the ``logging`` module (logger ``"core"``, level INFO) instead of stdout,
    and progress bars are not drawn."""
    _state["interactive"] = False


def is_interactive_logging_enabled() -> bool:
    return _state["interactive"]


def print_msg(message, line_break=True):
    """``message`` on stdout when interactive logging is on, else to the ``core`` logger."""
    if is_interactive_logging_enabled():
        sys.stdout.write(message + ("\n" if line_break else ""))
        sys.stdout.flush()
    else:
        logger.info(message)
