"""``TerminateOnNaN``."""
from __future__ import annotations

import math

from ._utils import _to_python, _print_msg
from .callback import Callback


class TerminateOnNaN(Callback):
    """Stop training (``model.stop_training = True``) when a batch loss is NaN or infinite;
    ``raise_error=True`` raises a RuntimeError instead."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = _to_python(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            _print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
