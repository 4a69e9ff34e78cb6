"""The training script the data-parallel tests run, under ``mpirun -np 2`` and as one process.

``python tests/mpi_worker.py MODE OUTDIR``: each rank seeds its initialisation differently
(``fit`` must start every rank from rank 0's weights), trains, and writes ``rank{r}.npz`` (the
weights) and ``rank{r}.json`` (the History) under OUTDIR. Modes: ``mlp``, ``lstm``, ``custom`` (the MLP with a custom train_step), ``cnn`` (Conv2D + BatchNormalization,
unshuffled), ``cnn_sync`` (the same with ``synchronized=True``), ``cnn_reference`` (what 2 ranks of ``cnn`` compute, in one process), ``resume_fail`` then ``resume`` (BackupAndRestore: the job dies in
epoch 2, a second run resumes from the backup; unshuffled), ``fail``
(rank 1 raises in the middle of the first epoch), ``mismatch`` (rank 1 builds a wider layer),
``decisions`` (stop_training set on one rank only, EarlyStopping and ReduceLROnPlateau, and the MLP
trained with ``DataParallel(compression="fp16")``: see ``decisions``).
It also writes a CSVLogger log and a saved model named by rank: only rank 0 may write them."""
import json
import os
import sys

import numpy as np

from core import callbacks, distribute, layers, models, optimizers
from core.utils import set_random_seed

N, BATCH, EPOCHS = 640, 64, 2  # 20 steps of a global batch of 64


def data(mode):
    rng = np.random.RandomState(0)
    if mode == "lstm":
        x = rng.standard_normal((N, 6, 4)).astype("float32")
    elif mode.startswith("cnn"):
        x = rng.standard_normal((N, 8, 8, 2)).astype("float32")
    else:
        x = rng.standard_normal((N, 10)).astype("float32")
    y = rng.randint(0, 3, size=N)
    return x, y


class CustomStep(models.Sequential):
    """A Keras-style custom train_step: its optimizer.apply must be averaged across ranks too."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        loss.backward()
        params = self.trainable_weights
        self.optimizer.apply([p.grad for p in params], params)
        for p in params:
            p.grad = None
        return self.compute_metrics(x, y, y_pred)


def build(mode):
    if mode == "custom":
        return CustomStep([layers.Input((10,)), layers.Dense(32, activation="relu"),
                           layers.Dense(3, activation="softmax")])
    if mode.startswith("cnn"):
        return models.Sequential([layers.Input((8, 8, 2)), layers.Conv2D(4, 3, use_bias=False),  # a bias before BN has no gradient
                                  layers.BatchNormalization(synchronized=mode == "cnn_sync"),
                                  layers.Activation("relu"), layers.GlobalAveragePooling2D(),
                                  layers.Dense(3, activation="softmax")])
    if mode == "lstm":
        return models.Sequential([layers.Input((6, 4)), layers.LSTM(8), layers.Dense(3, activation="softmax")])
    width = 33 if mode == "mismatch" and distribute.rank() == 1 else 32
    return models.Sequential([layers.Input((10,)), layers.Dense(width, activation="relu"),
                              layers.Dense(3, activation="softmax")])


class RaiseOnRank1(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 3 and distribute.rank() == 1:
            raise RuntimeError("deliberate failure on rank 1 at step 3")


class RaiseOnRank1InEpoch2(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.model._epoch_now == 1 and batch == 2 and distribute.rank() == 1:
            raise RuntimeError("deliberate failure on rank 1 in the second epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.model._epoch_now = epoch


def cnn_reference(out):
    """What 2 ranks with per-rank BatchNormalization statistics compute, in one process: two
    replicas from the same weights, each step replica r runs (training=True) on half r of the
    global batch, both apply the mean of the two gradients; rank r's weights are replica r's
    (the trainable weights equal, the moving statistics each of its own halves)."""
    set_random_seed(1)
    replicas = [build("cnn"), build("cnn")]
    replicas[1].set_weights(replicas[0].get_weights())
    for m in replicas:
        m.compile(optimizer=optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = data("cnn")
    half = BATCH // 2
    for _ in range(EPOCHS):
        for lo in range(0, N, BATCH):
            grads = []
            for r, m in enumerate(replicas):
                xs, ys = x[lo + r * half:lo + (r + 1) * half], y[lo + r * half:lo + (r + 1) * half]
                loss = m.compute_loss(x=xs, y=ys, y_pred=m(xs, training=True))
                loss.backward()
                grads.append([p.grad.copy() for p in m.trainable_weights])
                for p in m.trainable_weights:
                    p.grad = None
            mean = [(a + b) / np.float32(2) for a, b in zip(*grads)]
            for m in replicas:
                m.optimizer.apply([g.copy() for g in mean], m.trainable_weights)
    for r, m in enumerate(replicas):
        np.savez(os.path.join(out, f"rank{r}.npz"), *[w.numpy() for w in m.weights])


class StopOnOneRank(callbacks.Callback):
    """Sets stop_training on rank ``rank`` only: after batch 3 of the first epoch, or (``at_epoch_end``)
    at the end of the first epoch."""

    def __init__(self, rank, at_epoch_end=False):
        super().__init__()
        self.rank, self.at_epoch_end = rank, at_epoch_end

    def on_train_batch_end(self, batch, logs=None):
        if not self.at_epoch_end and batch == 3 and distribute.rank() == self.rank:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.at_epoch_end and epoch == 0 and distribute.rank() == self.rank:
            self.model.stop_training = True


def compiled_mlp(optimizer=None):
    set_random_seed(1 + distribute.rank())
    model = build("mlp")
    model.compile(optimizer=optimizer or optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def decisions(out):
    """One launch, several checks (each mpirun start costs seconds): (1) rank 1 alone sets
    stop_training after batch 3 -> every rank stops after 4 steps; (2) rank 0 alone sets it at the
    end of the first epoch -> every rank stops after 10 steps; (3) EarlyStopping and
    ReduceLROnPlateau decide on global values: their decisions and the learning rates, recorded
    on every rank; (4) batches of fewer samples than ranks (rank 0's share empty) in fit, evaluate
    and predict; (5) the MLP of ``mlp`` for 20 steps with float16 gradient compression (in one
    process, where there is no allreduce, the float32 training it is compared with)."""
    x, y = data("mlp")
    r = distribute.rank()
    record = {}
    for name, cb in (("stop_mid_epoch", StopOnOneRank(1)), ("stop_epoch_end", StopOnOneRank(0, at_epoch_end=True))):
        model = compiled_mlp()
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, callbacks=[cb])
        record[name] = int(model.optimizer.iterations)
    model = compiled_mlp()
    es = callbacks.EarlyStopping(monitor="val_loss", min_delta=0.005, patience=2)
    lr = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, min_delta=0.02, patience=1)
    h = model.fit(x, y, batch_size=BATCH, epochs=30, verbose=0, callbacks=[es, lr], validation_data=(x[:200], y[:200]))
    record["early_stopping"] = {"stopped_epoch": int(es.stopped_epoch), "epochs_run": len(h.history["loss"]),
                                "learning_rate": [float(v) for v in h.history["learning_rate"]],
                                "val_loss": h.history["val_loss"]}
    # a last batch of 1 sample: rank 0's share is empty in fit, evaluate and predict (batch 1)
    model = compiled_mlp()
    model.fit(x[:65], y[:65], batch_size=64, epochs=2, verbose=0, shuffle=False)
    record["empty_share"] = {"evaluate": model.evaluate(x[:65], y[:65], batch_size=64, verbose=0),
                             "predict": model.predict(x[:3], batch_size=1, verbose=0).tolist()}
    np.savez(os.path.join(out, f"empty_rank{r}.npz"), *[w.numpy() for w in model.weights])
    if distribute.size() > 1:
        distribute.set_distribution(distribute.DataParallel(compression="fp16"))
    model = compiled_mlp(optimizers.SGD(0.1))  # plain SGD: a weight's error is the sum of its gradients' errors
    np.savez(os.path.join(out, f"fp16_init_rank{r}.npz"), *[w.numpy() for w in model.weights])
    h = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    record["fp16_loss"] = h.history["loss"]
    dist = distribute.distribution()
    if dist is not None:  # unequal shares (1 and 3 samples) of gradients 1 and 3: the weighted mean 2.5; and 1/3
        record["fp16_average"] = [float(dist.average_gradients([np.full(4, 1.0 + 2 * r, np.float32)], 1 + 2 * r)[0][0]),
                                  float(dist.average_gradients([np.full(4, 1 / 3, np.float32)], 32)[0][0])]
    np.savez(os.path.join(out, f"fp16_rank{r}.npz"), *[w.numpy() for w in model.weights])
    with open(os.path.join(out, f"decisions_rank{r}.json"), "w") as f:
        json.dump(record, f)


def main(mode, out):
    if mode == "cnn_reference":
        return cnn_reference(out)
    if mode == "decisions":
        return decisions(out)
    set_random_seed(1 + distribute.rank())
    model = build(mode)
    model.compile(optimizer=optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data(mode)
    r = distribute.rank()
    # files named by rank: only rank 0's may appear
    cbs = [callbacks.CSVLogger(os.path.join(out, f"log_rank{r}.csv"))] + ([RaiseOnRank1()] if mode == "fail" else [])
    if mode.startswith("resume"):  # "resume_fail": the job dies in epoch 2; "resume": runs again from the backup
        cbs.append(callbacks.BackupAndRestore(os.path.join(out, "backup")))
        if mode == "resume_fail":
            cbs.append(RaiseOnRank1InEpoch2())
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=not mode.startswith(("cnn", "resume")),
                        verbose=2, callbacks=cbs, validation_data=(x[:100], y[:100]))
    np.savez(os.path.join(out, f"rank{r}.npz"), *[w.numpy() for w in model.weights])
    record = {"history": history.history, "iterations": int(model.optimizer.iterations)}
    if mode == "mlp":  # evaluate and predict sharded too: batches of 33 give unequal shares (16/17, 6/7)
        record["evaluate"] = model.evaluate(x, y, batch_size=33, verbose=0, return_dict=True)
        np.save(os.path.join(out, f"predict_rank{r}.npy"), model.predict(x, batch_size=33, verbose=0))
    with open(os.path.join(out, f"rank{r}.json"), "w") as f:
        json.dump(record, f)
    model.save(os.path.join(out, f"model_rank{r}.zoo.h5"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
