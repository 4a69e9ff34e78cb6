"""compile / fit / evaluate / predict (placeholder until the training loop lands)."""
from __future__ import annotations


class TrainingMixin:
    def __init__(self):
        self.compiled = False
        self.stop_training = False
        self.optimizer = None
