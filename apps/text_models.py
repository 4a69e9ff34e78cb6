"""Models and training helpers of ``zoo text``.

Every model takes one (batch, length) int64 array of token ids, 0 = padding, and outputs
class probabilities (softmax ``ClassifierModel``), so ``evaluate``/``predict`` treat them alike:

- ``lstm``: ``zoo.create_model("lstm_classifier")`` (Embedding with ``mask_zero`` ->
  Bidirectional LSTM -> Dense), on the word vocabulary of :mod:`apps.text_vocab`.
- ``transformer``: token + position embeddings, a few post-LN encoder blocks (the ``BertLayer``
  of :mod:`zoo.models.text`: Dense q/k/v, masked multi-head attention, LayerNormalization,
  GELU feed-forward), masked mean pooling, Dense head; trained from scratch on the same words.
- ``minilm``: the pretrained all-MiniLM-L6-v2 encoder with mean pooling and a new head
  (standardized features -> ReLU Dense -> softmax Dense), trained on features computed once;
  optionally its top layers too (on cached hidden states). The WordPiece vocabulary travels in
  the model file.
"""
from __future__ import annotations

import numpy as np

from core import layers as L
from core.autodiff import Tensor, no_grad
from core.callbacks import Callback
from core.layers.base import Layer, register_serializable
from zoo.classifier import ClassifierModel
from zoo.models.text import MINILM_L6_CONFIG, BertEmbeddings, BertLayer, MaskedMeanPooling

@register_serializable("zoo_apps")
class PaddingMask(Layer):
    """``(ids != pad_id)`` as int64 (1 = token, 0 = padding): the attention/pooling mask of token ids."""

    def __init__(self, pad_id=0, **kwargs):
        super().__init__(**kwargs)
        self.pad_id = int(pad_id)

    def call(self, ids):
        data = ids.data if isinstance(ids, Tensor) else ids
        return Tensor((data != self.pad_id).astype(np.int64))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


def build_lstm(vocab_size, num_classes, embed_dim=64, units=32, dropout=0.2):
    """Embedding(mask_zero) -> Bidirectional LSTM -> Dropout -> Dense softmax."""
    import zoo

    return zoo.create_model("lstm_classifier", vocab_size=int(vocab_size), num_classes=int(num_classes),
                            embed_dim=int(embed_dim), units=(int(units),), bidirectional=True, dropout=float(dropout))


def _head(pooled, num_classes, dropout, head_units, normalize=False):
    """[Normalization ``feature_norm``] -> Dropout -> [Dense ``head_hidden`` relu -> Dropout] -> Dense
    ``classifier`` softmax."""
    x = L.Normalization(name="feature_norm")(pooled) if normalize else pooled
    x = L.Dropout(dropout, name="classifier_dropout")(x)
    if head_units:
        x = L.Dense(int(head_units), activation="relu", name="head_hidden")(x)
        x = L.Dropout(dropout, name="head_dropout")(x)
    return L.Dense(int(num_classes), activation="softmax", name="classifier")(x)


def _encoder_classifier(ids, x, mask, num_classes, dropout, name, head_units=0, normalize=False):
    pooled = MaskedMeanPooling(name="mean_pooling")(x, mask=mask)
    out = _head(pooled, num_classes, dropout, head_units, normalize)
    return ClassifierModel(ids, out, features_tensor=pooled, head_name="classifier", name=name,
                           classifier_activation="softmax")


def build_transformer(vocab_size, num_classes, max_length, embed_dim=64, num_heads=4, ff_dim=128, num_layers=1,
                      dropout=0.1):
    """Token + position embeddings -> ``num_layers`` encoder blocks -> masked mean -> Dense softmax."""
    if embed_dim % num_heads:
        raise ValueError(f"transformer: embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
    ids = L.Input((None,), dtype="int64", name="tokens")
    mask = PaddingMask(name="padding_mask")(ids)
    x = BertEmbeddings(int(vocab_size), int(embed_dim), max_position_embeddings=int(max_length), type_vocab_size=1,
                       layer_norm_eps=1e-6, dropout=dropout, name="embeddings")(ids)
    for i in range(int(num_layers)):
        x = BertLayer(int(num_heads), int(ff_dim), layer_norm_eps=1e-6, dropout=dropout, attention_dropout=dropout,
                      name=f"encoder_layer_{i}")(x, attention_mask=mask)
    return _encoder_classifier(ids, x, mask, num_classes, dropout, "text_transformer")


def build_minilm(num_classes, config=None, dropout=0.1, head_units=256, head_dropout=0.3):
    """The MiniLM-L6 encoder (layers ``embeddings``, ``encoder_layer_0..5``, as ``zoo`` builds it)
    on token ids, masked mean pooling (sentence-transformers' pooling) and a head: the features
    standardized (``feature_norm``, statistics of the training texts), a ReLU Dense ``head_hidden``
    of ``head_units`` (0: none) and a Dense softmax ``classifier``. ``dropout``: the
    encoder's (BERT's 0.1), ``head_dropout``: before each Dense of the head."""
    cfg = dict(MINILM_L6_CONFIG)
    cfg.update(config or {})
    ids = L.Input((None,), dtype="int64", name="tokens")
    mask = PaddingMask(name="padding_mask")(ids)
    x = BertEmbeddings(cfg["vocab_size"], cfg["hidden_size"], cfg["max_position_embeddings"], cfg["type_vocab_size"],
                       cfg["layer_norm_eps"], dropout, name="embeddings")(ids)
    for i in range(cfg["num_layers"]):
        x = BertLayer(cfg["num_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"], dropout, dropout,
                      name=f"encoder_layer_{i}")(x, attention_mask=mask)
    return _encoder_classifier(ids, x, mask, num_classes, head_dropout, "text_minilm", head_units, normalize=True)


def copy_encoder_weights(dst, src):
    """Copy the weights of the layers ``src`` and ``dst`` share by name (``embeddings``,
    ``encoder_layer_N``); returns their names."""
    names = []
    for layer in dst.layers:
        if layer.weights and (layer.name == "embeddings" or layer.name.startswith("encoder_layer_")):
            layer.set_weights(src.get_layer(layer.name).get_weights())
            names.append(layer.name)
    return names


def encoder_layers(model):
    return [l for l in model.layers if l.name.startswith("encoder_layer_")]


# --------------------------------------------------------------------------- tokenizers
class WordTokenizer:
    """Texts -> word ids with a :class:`apps.text_vocab.Vocabulary`."""

    pad_id = 0

    def __init__(self, vocab):
        self.vocab = vocab

    def encode_batch(self, texts, max_length):
        return self.vocab.encode_batch(texts, max_length)


class PieceTokenizer:
    """Texts -> ``[CLS] pieces [SEP]`` ids with a BERT WordPiece tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_id

    def encode_batch(self, texts, max_length):
        enc = self.tokenizer.encode
        return [enc(t, max_length=max_length) for t in texts]


def tokenizer_from_assets(assets):
    """The tokenizer saved with a ``zoo text`` model (``assets['vocab']``)."""
    vocab = assets.get("vocab")
    if not isinstance(vocab, dict) or "tokens" not in vocab:
        raise ValueError("the model file has no text vocabulary asset: was it made by `zoo text train`?")
    if vocab.get("type") == "wordpiece":
        from zoo.tokenizers import WordPieceTokenizer

        return PieceTokenizer(WordPieceTokenizer(vocab["tokens"], lowercase=vocab.get("lowercase", True),
                                                 strip_accents=vocab.get("strip_accents")))
    from .text_vocab import Vocabulary

    return WordTokenizer(Vocabulary.from_config(vocab))


# --------------------------------------------------------------------------- batches
class TokenBatches:
    """Re-iterable ``(ids, y[, sample_weight])`` batches, each padded to its own longest text.

    Shuffled: a random order cut into pools of 50 batches, each pool sorted by length (little
    padding), then the batches of the epoch shuffled. Not shuffled: sorted by length
    (``order`` maps batch rows back to the samples)."""

    def __init__(self, ids, labels, batch_size, shuffle=False, seed=0, class_weight=None, pad_id=0):
        self.ids, self.labels = list(ids), None if labels is None else np.asarray(labels, np.int64)
        self.batch_size, self.shuffle, self.pad_id = int(batch_size), bool(shuffle), int(pad_id)
        self.lengths = np.fromiter((len(s) for s in self.ids), dtype=np.int64, count=len(self.ids))
        self.rng = np.random.default_rng(seed)
        self.weights = None
        if class_weight and self.labels is not None:
            table = np.ones(int(self.labels.max()) + 1, np.float32)
            for k, v in class_weight.items():
                if k < len(table):
                    table[k] = v
            self.weights = table[self.labels]

    def __len__(self):
        return -(-len(self.ids) // self.batch_size)

    def batches(self):
        """Index arrays of the batches of one pass."""
        n, b = len(self.ids), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i:i + b] for i in range(0, n, b)]
        order = self.rng.permutation(n)
        out = []
        pool = 50 * b
        for s in range(0, n, pool):
            chunk = order[s:s + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            out += [chunk[i:i + b] for i in range(0, len(chunk), b)]
        return [out[i] for i in self.rng.permutation(len(out))]

    def __iter__(self):
        from .text_vocab import pad_batch

        for idx in self.batches():
            x = pad_batch([self.ids[i] for i in idx], self.pad_id)
            if self.labels is None:
                yield x
            elif self.weights is not None:
                yield x, self.labels[idx], self.weights[idx]
            else:
                yield x, self.labels[idx]


def predict_ids(model, ids, batch_size=64, pad_id=0, progress=None):
    """Class probabilities (N, k) of token-id lists, in their order (batches sorted by length)."""
    from .text_vocab import pad_batch

    stream = TokenBatches(ids, None, batch_size, pad_id=pad_id)
    out = None
    for idx in stream.batches():
        x = pad_batch([stream.ids[i] for i in idx], pad_id)
        with no_grad():
            p = model(x, training=False)
        p = np.asarray(p.numpy(), np.float32)
        if out is None:
            out = np.zeros((len(stream.ids), p.shape[1]), np.float32)
        out[idx] = p
        if progress is not None:
            progress(len(idx))
    if out is None:
        raise ValueError("no texts to predict")
    return out


class ValidationMetrics(Callback):
    """Adds ``val_loss``, ``val_accuracy``, ``val_macro_f1`` and ``val_score`` to each epoch's logs,
    from ``predict_fn(model) -> probabilities`` on the validation split (the test split never comes
    here). ``val_score`` = macro-F1 - 0.001 * loss: the macro-F1, ties broken by the lower loss
    (small validation sets often tie); early stopping and the best-epoch weights use it."""

    def __init__(self, predict_fn, labels, class_names):
        super().__init__()
        self.predict_fn, self.labels, self.class_names = predict_fn, np.asarray(labels), class_names

    def on_epoch_end(self, epoch, logs=None):
        from .classification_report import classification_metrics

        probs = self.predict_fn(self.model)
        p = np.clip(probs[np.arange(len(self.labels)), self.labels], 1e-7, 1.0)
        m = classification_metrics(self.labels, probs.argmax(1), self.class_names)
        if logs is not None:
            logs["val_loss"] = float(-np.log(p).mean())
            logs["val_accuracy"] = m["accuracy"]
            logs["val_macro_f1"] = m["macro_f1"]
            logs["val_score"] = m["macro_f1"] - 0.001 * min(logs["val_loss"], 10.0)


def cosine_lr(lr, steps, warmup=0):
    """A cosine-decay schedule to 5% of ``lr`` over ``steps`` (with linear warm-up steps)."""
    from core.optimizers import schedules

    if warmup:
        return schedules.CosineDecay(lr * 0.05, decay_steps=max(steps - warmup, 1), alpha=0.05, warmup_target=lr,
                                     warmup_steps=warmup)
    return schedules.CosineDecay(lr, decay_steps=max(steps, 1), alpha=0.05)


# --------------------------------------------------------------------------- minilm stages
def encode_split(model, ids, split, batch_size=64, pad_id=0, progress=None):
    """One no-grad pass of the encoder of ``model`` (a :func:`build_minilm` model) over token-id
    lists: returns the masked-mean pooled features (N, d) of the last layer and, when ``split``
    is less than the number of encoder layers, each text's hidden states (length_i, d) at the input
    of encoder layer ``split`` (the first trainable one), to train the top layers without
    recomputing the frozen ones."""
    from .text_vocab import pad_batch

    emb, blocks = model.get_layer("embeddings"), encoder_layers(model)
    stream = TokenBatches(ids, None, batch_size, pad_id=pad_id)
    feats, hidden = None, [None] * len(ids) if split < len(blocks) else None
    for idx in stream.batches():
        x = pad_batch([stream.ids[i] for i in idx], pad_id)
        mask = (x != pad_id).astype(np.int64)
        with no_grad():
            h = emb(x, training=False)
            for i, block in enumerate(blocks):
                if i == split:  # real tokens only, one array per text
                    rows = np.asarray(h.numpy(), np.float32)[mask.astype(bool)]
                    parts = np.split(rows, np.cumsum(mask.sum(axis=1))[:-1])
                    for k, part in zip(idx.tolist(), parts):
                        hidden[k] = part
                h = block(h, attention_mask=mask, training=False)
            hd = np.asarray(h.numpy(), np.float32)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hd * m).sum(axis=1) / np.maximum(m.sum(axis=1), np.float32(1e-9))
        if feats is None:
            feats = np.zeros((len(ids), pooled.shape[1]), np.float32)
        feats[idx] = pooled
        if progress is not None:
            progress(len(idx))
    return feats, hidden


def build_head(num_features, num_classes, dropout=0.3, head_units=256):
    """The head trained on frozen pooled features, with the layer names of :func:`build_minilm`
    (``feature_norm`` still to be adapted to the training features)."""
    from core.models import Model

    inp = L.Input((int(num_features),), name="features")
    return Model(inp, _head(inp, num_classes, dropout, head_units, normalize=True), name="text_head")


def adapt_feature_norm(model, feats, floor=0.01):
    """Set the ``feature_norm`` statistics of ``model`` from training features, each standard
    deviation at least ``floor`` x the median one: MiniLM's pooled features have constant
    dimensions, which plain standardization would blow up as soon as fine-tuning moves them."""
    layer = model.get_layer("feature_norm")
    layer.adapt(feats)
    mean, var, count = layer.get_weights()
    std = np.sqrt(var)
    low = np.float32(floor) * np.median(std)
    layer.set_weights([mean, np.maximum(var, low * low).astype(var.dtype), count])


def build_top(model, split, dropout=0.3):
    """The encoder layers ``split..`` of ``model``, its pooling and head, as a model on hidden
    states: inputs ``hidden`` (B, T, d) and ``mask`` (B, T); weights copied from ``model``."""
    from core.models import Model

    blocks = encoder_layers(model)
    d = model.get_layer("embeddings").hidden_size
    h_in = L.Input((None, d), name="hidden")
    m_in = L.Input((None,), dtype="int64", name="mask")
    x = h_in
    for block in blocks[split:]:
        cfg = block.get_config()
        x = BertLayer(cfg["num_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"], cfg["dropout"],
                      cfg["attention_dropout"], name=block.name)(x, attention_mask=m_in)
    pooled = MaskedMeanPooling(name="mean_pooling")(x, mask=m_in)
    names = {l.name for l in model.layers}
    units = model.get_layer("head_hidden").units if "head_hidden" in names else 0
    out = _head(pooled, model.get_layer("classifier").units, dropout, units, normalize="feature_norm" in names)
    top = Model([h_in, m_in], out, name="text_top")
    copy_layers(top, model)
    return top


def copy_layers(dst, src):
    """Copy weights between the layers of two models that share a name and have weights."""
    names = {l.name for l in src.layers if l.weights}
    for layer in dst.layers:
        if layer.weights and layer.name in names:
            layer.set_weights(src.get_layer(layer.name).get_weights())


class HiddenBatches:
    """Re-iterable ``({"hidden", "mask"}, y[, sample_weight])`` batches of cached hidden states,
    each padded to its longest text (shuffled like :class:`TokenBatches`)."""

    def __init__(self, hidden, labels, batch_size, shuffle=False, seed=0, class_weight=None):
        self.hidden = hidden
        dummy = [[1] * len(h) for h in hidden]  # lengths only
        self.tokens = TokenBatches(dummy, labels, batch_size, shuffle, seed, class_weight)

    def __len__(self):
        return len(self.tokens)

    def pad(self, idx):
        hs = [self.hidden[i] for i in idx]
        lengths = np.array([len(h) for h in hs])
        keep = np.arange(max(1, int(lengths.max())))[None, :] < lengths[:, None]
        x = np.zeros(keep.shape + (hs[0].shape[1],), np.float32)
        x[keep] = np.concatenate(hs)
        return {"hidden": x, "mask": keep.astype(np.int64)}

    def __iter__(self):
        t = self.tokens
        for idx in t.batches():
            x = self.pad(idx)
            if t.weights is not None:
                yield x, t.labels[idx], t.weights[idx]
            else:
                yield x, t.labels[idx]

    def predict(self, model):
        out = None
        for idx in TokenBatches([[1] * len(h) for h in self.hidden], None, self.tokens.batch_size).batches():
            with no_grad():
                p = np.asarray(model(self.pad(idx), training=False).numpy(), np.float32)
            if out is None:
                out = np.zeros((len(self.hidden), p.shape[1]), np.float32)
            out[idx] = p
        return out
