"""``BackupAndRestore``: resume an interrupted ``fit`` from its last backup (Keras 3 semantics)."""
from __future__ import annotations

import json
import os
import shutil

from .. import distribute
from ._utils import _save_freq_reached
from .callback import Callback


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` and restore it when ``fit`` starts again.

    The backup is ``latest.weights.h5`` (the weights and the optimizer's state, in Keras 3's
    ``.weights.h5`` layout) and ``training_metadata.json`` (``{"epoch", "batch"}``), written at
    every epoch end (``save_freq="epoch"``) or every ``save_freq`` training batches. At the
    start of ``fit`` an existing backup is loaded and training resumes at the epoch it was
    written in (an epoch interrupted midway is run again from its first batch, with the weights
    of the last backup, as in Keras). ``double_checkpoint`` keeps the previous backup as
    ``*.bkp``; a backup directory holding one falls back to it when the latest cannot be read. ``delete_checkpoint``
    removes ``backup_dir`` when training ends normally (an interrupted run keeps it).
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. Expected either 'epoch' or a positive integer.")
        self.backup_dir = str(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = f"{self._weights_path}.bkp"
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        try:
            self._load_model()
        except (OSError, ValueError):   # an unreadable backup (weight file errors are ValueErrors)
            if not os.path.exists(self._prev_weights_path):
                raise
            shutil.copyfile(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                shutil.copyfile(self._prev_training_metadata_path, self._training_metadata_path)
            elif os.path.exists(self._training_metadata_path):
                os.remove(self._training_metadata_path)
            self._load_model()

    def _load_model(self):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model.name!r} is unbuilt. You can build it beforehand by calling "
                             "it on a batch of data.")
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path) as f:
                try:
                    metadata = json.loads(f.read())
                    epoch = int(metadata["epoch"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                    raise ValueError(f"{self._training_metadata_path} is not valid training metadata ({e})") from None
            self._current_epoch = epoch
            self.model._initial_epoch = epoch

    # ------------------------------------------------------------------ backup
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model()

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        return _save_freq_reached(self, batch)

    def _save_model(self):
        if not distribute.writes_files():  # data-parallel: rank 0 writes the backup, every rank restores it
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._weights_path):
            shutil.copyfile(self._weights_path, self._prev_weights_path)
        if self.double_checkpoint and os.path.exists(self._training_metadata_path):
            shutil.copyfile(self._training_metadata_path, self._prev_training_metadata_path)
        self.model.save_weights(self._weights_path, overwrite=True)
        tmp = f"{self._training_metadata_path}.tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
        os.replace(tmp, self._training_metadata_path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and distribute.writes_files() and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
