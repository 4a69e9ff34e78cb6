"""Text models: a BERT encoder (``minilm_l6`` = all-MiniLM-L6-v2), a text classifier on it,
``SentenceEncoder`` and the ``lstm_classifier``.

BERT here follows Hugging Face ``BertModel``: token + position + segment embeddings summed,
LayerNorm (eps 1e-12), dropout; then post-LN blocks ``x = LN(x + Dropout(Attn(x)))``,
``x = LN(x + Dropout(W2 gelu(W1 x)))`` with exact (erf) GELU and padding keys masked out of the
attention. Weights load from a Hugging Face ``safetensors``/state dict (``embeddings.*``,
``encoder.layer.N.*``, ``pooler.dense.*``; Linear weights are transposed into Dense kernels).

    enc = zoo.SentenceEncoder("minilm_l6")                 # weights through zoo.weights.fetch
    emb = enc.encode(["A man plays guitar.", "Someone is playing music."])   # (2, 384) float32

    clf = zoo.create_model("minilm_l6", weights="sentence", num_classes=2)   # encoder + new head
    x = clf.preprocess(["great film", "awful plot"])       # dict of (B, T) int64 arrays
"""
from __future__ import annotations

import json
import os

import numpy as np

from core import backend, initializers, ops
from core import layers as L
from core.autodiff import Tensor, no_grad
from core.layers.base import Layer, register_serializable
from core.layers.base import build_sublayer, own_scope
from core.models.functional import Functional
from core.models.serialization import functional_from_config

from ..classifier import ClassifierModel
from ..registry import register_model

MINILM_L6_CONFIG = dict(vocab_size=30522, hidden_size=384, num_layers=6, num_heads=12, intermediate_size=1536,
                        max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12)


# --------------------------------------------------------------------------- exact GELU
def gelu_exact(x):
    """``x * Phi(x)`` (erf GELU, as BERT); float32 uses the core op's fast rational erf."""
    return ops.gelu(x, approximate=False)


# --------------------------------------------------------------------------- self-attention
def self_attention(q, k, v, batch, length, num_heads, key_padding_mask=None, dropout_rate=0.0, training=False):
    """softmax(q k^T / sqrt(dh) + mask) v per head, on (batch * length, d) rows; differentiable.
    ``key_padding_mask``: (batch, length) bool, True = a real token. The attention is the core
    fused op (``core.ops.scaled_dot_product_attention``) on (batch, heads, length, dh) views."""
    B, T, H = int(batch), int(length), int(num_heads)
    d = q.shape[-1]
    dh = d // H
    keep = None
    if key_padding_mask is not None:
        keep = key_padding_mask
        if keep.dtype != bool:
            keep = keep != 0

    def heads(a):  # (B*T, d) -> (B, H, T, dh) view
        return ops.transpose(ops.reshape(a, (B, T, H, dh)), (0, 2, 1, 3))

    out = ops.scaled_dot_product_attention(heads(q), heads(k), heads(v), key_padding_mask=keep,
                                           dropout_rate=dropout_rate, training=bool(training))
    return ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (B * T, d))


# --------------------------------------------------------------------------- layers
@register_serializable("zoo")
class BertEmbeddings(Layer):
    """``LayerNorm(word[ids] + position[0..T-1] + token_type[type_ids])`` then dropout.

    ``call(input_ids, token_type_ids=None)``: (B, T) ints -> (B, T, hidden_size) float."""

    def __init__(self, vocab_size, hidden_size, max_position_embeddings=512, type_vocab_size=2,
                 layer_norm_eps=1e-12, dropout=0.1, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden_size)
        self.max_position_embeddings, self.type_vocab_size = int(max_position_embeddings), int(type_vocab_size)
        self.layer_norm_eps, self.dropout_rate = float(layer_norm_eps), float(dropout)
        self.initializer_range = float(initializer_range)

    def build(self, input_shape):
        init = {"class_name": "RandomNormal", "config": {"stddev": self.initializer_range}}

        def emb(n, name):
            return L.Embedding(n, self.hidden_size, embeddings_initializer=initializers.get(init), name=name,
                               dtype=self.dtype)

        with own_scope(self):
            self.word_embeddings = emb(self.vocab_size, "word_embeddings")
            self.position_embeddings = emb(self.max_position_embeddings, "position_embeddings")
            self.token_type_embeddings = emb(self.type_vocab_size, "token_type_embeddings")
            for layer in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
                build_sublayer(layer, (None, None))
            self.layer_norm = L.LayerNormalization(epsilon=self.layer_norm_eps, name="layer_norm", dtype=self.dtype)
            build_sublayer(self.layer_norm, (None, None, self.hidden_size))
            self.dropout = L.Dropout(self.dropout_rate, name="dropout")

    def call(self, input_ids, token_type_ids=None, training=None):
        if input_ids.ndim != 2:
            raise ValueError(f"BertEmbeddings '{self.name}': input_ids must be (batch, length), "
                             f"got shape {tuple(input_ids.shape)}")
        T = input_ids.shape[1]
        if T > self.max_position_embeddings:
            raise ValueError(f"BertEmbeddings '{self.name}': sequences of {T} tokens are longer than the "
                             f"{self.max_position_embeddings} position embeddings; truncate to at most "
                             f"{self.max_position_embeddings}")
        x = self.word_embeddings(input_ids)
        x = x + ops.getitem(self.position_embeddings.embeddings, slice(0, T))
        if token_type_ids is None:
            x = x + ops.getitem(self.token_type_embeddings.embeddings, slice(0, 1))
        else:
            if tuple(token_type_ids.shape) != tuple(input_ids.shape):
                raise ValueError(f"BertEmbeddings '{self.name}': token_type_ids shape {tuple(token_type_ids.shape)}"
                                 f" must equal input_ids shape {tuple(input_ids.shape)}")
            x = x + self.token_type_embeddings(token_type_ids)
        x = self.layer_norm(x)
        return self.dropout(x, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.hidden_size,)

    def _output_dtype(self, inputs):  # float vectors from integer ids
        return self.compute_dtype

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "max_position_embeddings": self.max_position_embeddings, "type_vocab_size": self.type_vocab_size,
                "layer_norm_eps": self.layer_norm_eps, "dropout": self.dropout_rate,
                "initializer_range": self.initializer_range}


@register_serializable("zoo")
class BertLayer(Layer):
    """One post-LN transformer encoder block of BERT.

    ``call(x, attention_mask=None)``: x (B, T, d); attention_mask (B, T) with 1 (True) for real
    tokens and 0 for padding, which no query attends to. Sublayers ``query``, ``key``, ``value``,
    ``attention_output`` (Dense d->d), ``attention_norm``, ``intermediate`` (d->ff, exact GELU),
    ``output_dense`` (ff->d), ``output_norm``."""

    def __init__(self, num_heads, intermediate_size, layer_norm_eps=1e-12, dropout=0.1, attention_dropout=0.1,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.intermediate_size = int(num_heads), int(intermediate_size)
        self.layer_norm_eps = float(layer_norm_eps)
        self.dropout_rate, self.attention_dropout = float(dropout), float(attention_dropout)
        self.initializer_range = float(initializer_range)

    def build(self, input_shape):
        d = input_shape[-1]
        if d is None or d % self.num_heads:
            raise ValueError(f"BertLayer '{self.name}': the hidden size {d} must be known and divisible by "
                             f"num_heads={self.num_heads}")

        def dense(units, name):
            init = initializers.get({"class_name": "RandomNormal", "config": {"stddev": self.initializer_range}})
            return L.Dense(units, kernel_initializer=init, name=name, dtype=self.dtype)

        shape = (None, d)  # the sublayers run on (batch * length, d) rows
        with own_scope(self):
            for name in ("query", "key", "value", "attention_output"):
                setattr(self, name, dense(d, name))
                build_sublayer(getattr(self, name), shape)
            self.attention_norm = L.LayerNormalization(epsilon=self.layer_norm_eps, name="attention_norm",
                                                       dtype=self.dtype)
            build_sublayer(self.attention_norm, shape)
            self.intermediate = dense(self.intermediate_size, "intermediate")
            build_sublayer(self.intermediate, shape)
            self.output_dense = dense(d, "output_dense")
            build_sublayer(self.output_dense, (None, self.intermediate_size))
            self.output_norm = L.LayerNormalization(epsilon=self.layer_norm_eps, name="output_norm",
                                                    dtype=self.dtype)
            build_sublayer(self.output_norm, shape)
            self.dropout = L.Dropout(self.dropout_rate, name="dropout")

    def call(self, x, attention_mask=None, training=None):
        if x.ndim != 3:
            raise ValueError(f"BertLayer '{self.name}': expected (batch, length, hidden), got shape {tuple(x.shape)}")
        B, T, d = x.shape
        # (B*T, d) rows: 2-D matrix products run as one BLAS call each (3-D ones loop over the batch)
        x2 = ops.reshape(x, (B * T, d))
        keep = None
        if attention_mask is not None:
            m = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
            m = x.xp.asarray(m)
            if tuple(m.shape) != (B, T):
                raise ValueError(f"BertLayer '{self.name}': attention_mask must have shape (batch, length) = "
                                 f"{(B, T)}, got {tuple(m.shape)}")
            keep = m.astype(bool) if m.dtype != bool else m
        ctx = self_attention(self.query(x2), self.key(x2), self.value(x2), B, T, self.num_heads,
                             key_padding_mask=keep, dropout_rate=self.attention_dropout, training=bool(training))
        a = self.dropout(self.attention_output(ctx), training=training)
        x2 = self.attention_norm(x2 + a)
        h = gelu_exact(self.intermediate(x2))
        h = self.dropout(self.output_dense(h), training=training)
        return ops.reshape(self.output_norm(x2 + h), (B, T, d))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "intermediate_size": self.intermediate_size,
                "layer_norm_eps": self.layer_norm_eps, "dropout": self.dropout_rate,
                "attention_dropout": self.attention_dropout, "initializer_range": self.initializer_range}


@register_serializable("zoo")
class BertPooler(Layer):
    """BERT's pooler: ``tanh(dense(x[:, 0]))``, the [CLS] token through a Dense layer."""

    def build(self, input_shape):
        d = input_shape[-1]
        with own_scope(self):
            self.dense = L.Dense(d, activation="tanh", name="dense", dtype=self.dtype)
            build_sublayer(self.dense, (None, d))

    def call(self, x):
        return self.dense(ops.getitem(x, (slice(None), 0)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@register_serializable("zoo")
class MaskedMeanPooling(Layer):
    """Mean over the tokens whose mask is 1 (sentence-transformers' mean pooling):
    ``call(x (B, T, d), mask (B, T)) -> (B, d)``; all-padding rows give zeros, not NaN."""

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        m = mask.data if isinstance(mask, Tensor) else mask
        m = x.xp.asarray(m).astype(x.dtype)[:, :, None]
        count = x.xp.maximum(m.sum(axis=1), x.dtype.type(1e-9))
        return ops.sum(x * Tensor(m), axis=1) / Tensor(count)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


# --------------------------------------------------------------------------- models
class _TextModelMixin:
    """Tokenizer and ``preprocess(texts)`` from the weights entry (``pretrained_cfg['input']``)."""

    _tokenizer = None

    @property
    def tokenizer(self):
        """The WordPiece tokenizer of the pretrained weights (fetched through ``zoo.weights``)."""
        if self._tokenizer is None:
            spec = (getattr(self, "pretrained_cfg", None) or {}).get("input") or {}
            if not spec.get("vocab"):
                raise ValueError(f"model '{self.name}' has no tokenizer: it was built without pretrained "
                                 "weights; set model.tokenizer = zoo.tokenizers.WordPieceTokenizer(vocab)")
            from .. import weights as wreg
            from ..tokenizers import WordPieceTokenizer

            self._tokenizer = WordPieceTokenizer.from_file(wreg.fetch(spec["vocab"]),
                                                           lowercase=spec.get("lowercase", True))
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, tok):
        self._tokenizer = tok

    @property
    def max_length(self):
        spec = (getattr(self, "pretrained_cfg", None) or {}).get("input") or {}
        return int(spec.get("max_seq_length") or self.config["max_position_embeddings"])

    def preprocess(self, texts, text_pair=None, max_length=None):
        """Texts -> the model's input dict (``input_ids``, ``attention_mask``, ``token_type_ids``)."""
        return self.tokenizer(texts, text_pair=text_pair, max_length=max_length or self.max_length)


@register_serializable("zoo")
class BertEncoder(_TextModelMixin, Functional):
    """A BERT encoder: inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (B, T) ->
    the last hidden states (B, T, hidden_size), or pooled (B, hidden_size) features."""

    def __init__(self, inputs, outputs, config=None, name=None, **kwargs):
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.config = dict(config or {})
        self.pretrained_cfg = {}

    def get_config(self):
        config = super().get_config()
        config["bert_config"] = dict(self.config)
        config["pretrained_cfg"] = dict(self.pretrained_cfg)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        graph = functional_from_config(Functional, config, custom_objects, safe_mode)
        model = cls(graph._inputs_struct, graph._outputs_struct, config=config.get("bert_config"), name=graph.name)
        model.pretrained_cfg = dict(config.get("pretrained_cfg") or {})
        return model


@register_serializable("zoo")
class BertTextClassifier(_TextModelMixin, ClassifierModel):
    """BERT encoder + pooling (``"cls"``: BERT's tanh pooler on [CLS]; ``"mean"``: masked mean)
    + dropout + Dense ``classifier`` head; ``features(x)`` gives the pooled features."""

    def __init__(self, inputs, outputs, config=None, **kwargs):
        super().__init__(inputs, outputs, **kwargs)
        self.config = dict(config or {})

    def get_config(self):
        config = super().get_config()
        config["bert_config"] = dict(self.config)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=True):
        model = super().from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)
        model.config = dict(config.get("bert_config") or {})
        return model

    def preprocess(self, texts, text_pair=None, max_length=None):  # text, not images
        return _TextModelMixin.preprocess(self, texts, text_pair=text_pair, max_length=max_length)


def bert(vocab_size=30522, hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072,
         max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, dropout=0.1, attention_dropout=0.1,
         sequence_length=None, num_classes=None, pooling=None, classifier_activation=None, classifier_dropout=None,
         include_top=True, name="bert", input_shape=None, initializer_range=0.02):
    """Build a BERT encoder (``num_classes`` None/0 and ``pooling`` None: sequence output), a
    pooled encoder (``pooling`` "cls"/"mean"), or a text classifier (``num_classes`` > 0, pooling
    defaults to "cls", head ``classifier`` with ``classifier_activation``, None = logits)."""
    if input_shape is not None:
        if len(tuple(input_shape)) != 1:
            raise ValueError(f"{name}: input_shape must be (sequence_length,), got {tuple(input_shape)}")
        sequence_length = tuple(input_shape)[0]
    if hidden_size % num_heads:
        raise ValueError(f"{name}: hidden_size={hidden_size} must be divisible by num_heads={num_heads}")
    if pooling not in (None, "cls", "mean"):
        raise ValueError(f"{name}: pooling must be None, 'cls' or 'mean', got {pooling!r}")
    if not include_top:
        num_classes = None
    config = dict(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                  intermediate_size=intermediate_size, max_position_embeddings=max_position_embeddings,
                  type_vocab_size=type_vocab_size, layer_norm_eps=layer_norm_eps, dropout=dropout,
                  attention_dropout=attention_dropout)
    T = sequence_length
    ids = L.Input((T,), dtype="int64", name="input_ids")
    mask = L.Input((T,), dtype="int64", name="attention_mask")
    types = L.Input((T,), dtype="int64", name="token_type_ids")
    inputs = [ids, mask, types]
    x = BertEmbeddings(vocab_size, hidden_size, max_position_embeddings, type_vocab_size, layer_norm_eps, dropout,
                       initializer_range, name="embeddings")(ids, token_type_ids=types)
    for i in range(num_layers):
        x = BertLayer(num_heads, intermediate_size, layer_norm_eps, dropout, attention_dropout, initializer_range,
                      name=f"encoder_layer_{i}")(x, attention_mask=mask)
    if num_classes:
        pooling = pooling or "cls"
    if pooling == "cls":
        pooled = BertPooler(name="pooler")(x)
    elif pooling == "mean":
        pooled = MaskedMeanPooling(name="mean_pooling")(x, mask=mask)
    else:
        pooled = None
    if not num_classes:
        return BertEncoder(inputs, x if pooled is None else pooled, config=config, name=name)
    rate = dropout if classifier_dropout is None else classifier_dropout
    features = L.Dropout(rate, name="classifier_dropout")(pooled)
    out = L.Dense(int(num_classes), activation=classifier_activation, name="classifier")(features)
    return BertTextClassifier(inputs, out, config=config, features_tensor=features, head_name="classifier",
                              name=name, classifier_activation=classifier_activation)


def config_from_hf(cfg):
    """Builder keyword arguments from a Hugging Face BERT ``config.json`` (dict or path)."""
    if not isinstance(cfg, dict):
        with open(os.fspath(cfg), encoding="utf-8") as f:
            cfg = json.load(f)
    act = cfg.get("hidden_act", "gelu")
    if act != "gelu":
        raise ValueError(f"only BERT configs with hidden_act='gelu' (exact) are supported, got {act!r}")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"only absolute position embeddings are supported, got {cfg['position_embedding_type']!r}")
    return dict(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], num_layers=cfg["num_hidden_layers"],
                num_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
                max_position_embeddings=cfg["max_position_embeddings"], type_vocab_size=cfg.get("type_vocab_size", 2),
                layer_norm_eps=cfg.get("layer_norm_eps", 1e-12))


# --------------------------------------------------------------------------- loading HF weights
def _hf_arrays(layer, index, sd, p):
    """(parameter, array) pairs for one of our layers from the HF state dict ``sd`` (prefix ``p``);
    ``index`` numbers the BertLayers in model order (``encoder.layer.<index>``)."""
    from core.saving.torch_mapping import linear_kernel

    def lin(dense, key):
        return [(dense.kernel, linear_kernel(sd[key + ".weight"])), (dense.bias, sd[key + ".bias"])]

    def ln(norm, key):
        return [(norm.gamma, sd[key + ".weight"]), (norm.beta, sd[key + ".bias"])]

    if isinstance(layer, BertEmbeddings):
        e = p + "embeddings."
        return ([(layer.word_embeddings.embeddings, sd[e + "word_embeddings.weight"]),
                 (layer.position_embeddings.embeddings, sd[e + "position_embeddings.weight"]),
                 (layer.token_type_embeddings.embeddings, sd[e + "token_type_embeddings.weight"])]
                + ln(layer.layer_norm, e + "LayerNorm"))
    if isinstance(layer, BertLayer):
        b = f"{p}encoder.layer.{index}."
        return (lin(layer.query, b + "attention.self.query") + lin(layer.key, b + "attention.self.key")
                + lin(layer.value, b + "attention.self.value")
                + lin(layer.attention_output, b + "attention.output.dense")
                + ln(layer.attention_norm, b + "attention.output.LayerNorm")
                + lin(layer.intermediate, b + "intermediate.dense") + lin(layer.output_dense, b + "output.dense")
                + ln(layer.output_norm, b + "output.LayerNorm"))
    if isinstance(layer, BertPooler):
        return lin(layer.dense, p + "pooler.dense")
    return []


class _Recording(dict):
    """A state dict that records which keys were read."""

    def __init__(self, *a):
        super().__init__(*a)
        self.read = set()

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.read.add(key)
        return value


def load_hf_bert_state_dict(model, sd):
    """Copy a Hugging Face BERT state dict (``{name: array}``, optionally prefixed ``bert.``) into
    a model built by :func:`bert`. Every weight of the encoder (and of the pooler when the model
    has one) must be there with its shape; other keys are an error except ``position_ids``, the
    pooler's and, in a ``bert.``-prefixed dict, a task head's. Nothing is assigned unless all fit."""
    from core.saving.torch_mapping import StateDictMappingError

    sd = _Recording(sd)
    prefix = "bert." if any(k.startswith("bert.embeddings.") for k in sd) else ""
    pairs = []
    blocks = [l for l in model.layers if isinstance(l, BertLayer)]
    for layer in model.layers:
        index = next((i for i, b in enumerate(blocks) if b is layer), None)
        try:
            pairs.extend(_hf_arrays(layer, index, sd, prefix))
        except KeyError as e:
            raise StateDictMappingError(f"{model.name}: the state dict has no key {e.args[0]!r} for layer "
                                        f"'{layer.name}'") from None
    for param, arr in pairs:
        if tuple(arr.shape) != tuple(param.shape):
            raise StateDictMappingError(f"{model.name}: weight '{param.path}' has shape {tuple(param.shape)}, the "
                                        f"state dict gives {tuple(arr.shape)}")
    loaded = {id(param) for param, _ in pairs}
    missing = [w.path for w in model.weights if id(w) not in loaded and not w.path.startswith("classifier/")]
    if missing:
        raise StateDictMappingError(f"{model.name}: weights the state dict does not provide: {missing[:5]}")
    unexpected = sorted(k for k in sd if k not in sd.read and not k.endswith("position_ids")
                        and not k.startswith(prefix + "pooler.") and k.startswith(prefix))
    if unexpected:
        n_layers = sum(isinstance(l, BertLayer) for l in model.layers)
        raise StateDictMappingError(f"{model.name}: state dict keys this model has no place for: {unexpected[:5]}"
                                    f"{' ...' if len(unexpected) > 5 else ''} (is it a BERT with {n_layers} layers?)")
    for param, arr in pairs:
        param.assign(np.asarray(arr, dtype=param.dtype))
    return model


def load_bert_safetensors(model, path, entry=None):
    """Registry loader: a Hugging Face BERT ``model.safetensors`` into a :func:`bert` model."""
    from core.saving import load_safetensors

    load_hf_bert_state_dict(model, load_safetensors(path))


def load_bert_torch(model, path, entry=None):
    """Registry loader: a PyTorch ``pytorch_model.bin`` (HF BERT state dict) into a :func:`bert` model."""
    from core.saving import load_torch_checkpoint, state_dict_from_checkpoint

    sd = state_dict_from_checkpoint(load_torch_checkpoint(path))
    load_hf_bert_state_dict(model, {k: np.asarray(v) for k, v in sd.items()})


_BERT_LOADERS = {"safetensors": load_bert_safetensors, "torch_zip": load_bert_torch, "torch_legacy": load_bert_torch}


@register_model("bert", loaders=_BERT_LOADERS, default_num_classes=None)
def bert_model(num_classes=None, input_shape=None, include_top=True, pooling=None, classifier_activation=None,
               **kwargs):
    """BERT encoder / text classifier of any size (BERT-base defaults; see :func:`bert`)."""
    return bert(num_classes=num_classes, input_shape=input_shape, include_top=include_top, pooling=pooling,
                classifier_activation=classifier_activation, **kwargs)


@register_model("minilm_l6", loaders=_BERT_LOADERS, default_num_classes=None)
def minilm_l6(num_classes=None, input_shape=None, include_top=True, pooling=None, classifier_activation=None,
              **kwargs):
    """MiniLM-L6-H384 BERT encoder (all-MiniLM-L6-v2): 6 layers, hidden 384, 12 heads, ff 1536."""
    cfg = dict(MINILM_L6_CONFIG)
    cfg.update(kwargs)
    cfg.setdefault("name", "minilm_l6")
    return bert(num_classes=num_classes, input_shape=input_shape, include_top=include_top, pooling=pooling,
                classifier_activation=classifier_activation, **cfg)


# --------------------------------------------------------------------------- LSTM classifier
@register_serializable("zoo")
class ZeroMasking(Layer):
    """Keras ``Masking(mask_value=0.0)``: time steps whose features are all 0 are masked (and
    output as zeros) for the recurrent layers that follow."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def _keep(self, x):
        return (x.data != x.dtype.type(self.mask_value)).any(axis=-1)

    def call(self, x):
        keep = self._keep(x)
        return x * Tensor(keep[..., None].astype(x.dtype))

    def compute_mask(self, inputs, mask=None):
        return Tensor(self._keep(inputs))

    def _makes_mask(self):
        return True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@register_model("lstm_classifier", default_num_classes=2)
def lstm_classifier(num_classes=2, input_shape=None, include_top=True, pooling=None, classifier_activation="softmax",
                    vocab_size=None, input_dim=None, embed_dim=128, rnn="lstm", units=(64,), bidirectional=False,
                    mask_zero=True, dropout=0.0, recurrent_dropout=0.0, sequence_length=None,
                    name="lstm_classifier"):
    """Embedding (``mask_zero``) -> stacked (Bi)LSTM/GRU -> Dropout -> Dense ``predictions``.

    Token ids: ``vocab_size`` (input (B, T) ints, 0 = padding when ``mask_zero``). Feature
    sequences: ``input_dim`` features per step (input (B, T, input_dim) floats; with
    ``mask_zero`` all-zero steps are masked, as Keras ``Masking(0.0)``). ``units``: an int or
    one int per recurrent layer; all but the last return sequences, the last returns its final
    state (``pooling="avg"``/``"max"`` instead pools the last layer's sequence). Output
    (B, num_classes) with ``classifier_activation``; ``num_classes=0`` or ``include_top=False``
    outputs the features.
    """
    if rnn not in ("lstm", "gru"):
        raise ValueError(f"lstm_classifier: rnn must be 'lstm' or 'gru', got {rnn!r}")
    if (vocab_size is None) == (input_dim is None):
        raise ValueError(f"lstm_classifier: give exactly one of vocab_size (token ids) or input_dim (feature "
                         f"vectors), got vocab_size={vocab_size}, input_dim={input_dim}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"lstm_classifier: pooling must be None, 'avg' or 'max', got {pooling!r}")
    units = (int(units),) if isinstance(units, (int, np.integer)) else tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"lstm_classifier: units must be a positive int or a non-empty tuple of them, got {units}")
    if input_shape is not None:
        input_shape = tuple(input_shape)
        sequence_length = input_shape[0]
        if input_dim is not None and len(input_shape) == 2:
            if input_shape[1] != input_dim:
                raise ValueError(f"lstm_classifier: input_shape {input_shape} disagrees with input_dim={input_dim}")
    if vocab_size is not None:
        inp = L.Input((sequence_length,), dtype="int64", name="tokens")
        x = L.Embedding(int(vocab_size), int(embed_dim), mask_zero=mask_zero, name="embedding")(inp)
    else:
        inp = L.Input((sequence_length, int(input_dim)), name="sequences")
        x = ZeroMasking(name="masking")(inp) if mask_zero else inp
    layer_cls = L.LSTM if rnn == "lstm" else L.GRU
    for i, u in enumerate(units):
        last = i == len(units) - 1
        layer = layer_cls(u, return_sequences=(not last) or pooling is not None, dropout=dropout,
                          recurrent_dropout=recurrent_dropout, name=f"{rnn}_{i}")
        if bidirectional:
            layer = L.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    if pooling == "avg":
        x = L.GlobalAveragePooling1D(name="avg_pool")(x)
    elif pooling == "max":
        x = L.GlobalMaxPooling1D(name="max_pool")(x)
    features = L.Dropout(dropout, name="head_dropout")(x) if dropout else x
    if not include_top or not num_classes:
        return ClassifierModel(inp, features, features_tensor=features, head_name=None, name=name,
                               classifier_activation=classifier_activation)
    out = L.Dense(int(num_classes), activation=classifier_activation, name="predictions")(features)
    return ClassifierModel(inp, out, features_tensor=features, head_name="predictions", name=name,
                           classifier_activation=classifier_activation)


# --------------------------------------------------------------------------- SentenceEncoder
class SentenceEncoder:
    """Sentence embeddings as sentence-transformers computes them: tokenize (max_seq_length of the
    weights entry, 256 for all-MiniLM-L6-v2), run the encoder, mean-pool over real tokens and
    L2-normalise. ``name`` is a registered model whose weights, vocabulary and config come through
    ``zoo.weights.fetch``, or a local sentence-transformers / Hugging Face BERT folder
    (``model.safetensors`` or ``pytorch_model.bin``, ``vocab.txt``, ``config.json``; optional
    ``sentence_bert_config.json``, ``tokenizer_config.json``, ``modules.json``).

    >>> enc = SentenceEncoder("minilm_l6")
    >>> enc.encode(["first sentence", "second one"]).shape
    (2, 384)
    """

    def __init__(self, name="minilm_l6", weights="sentence", max_length=None, normalize=None):
        from ..tokenizers import WordPieceTokenizer

        if os.path.isdir(os.fspath(name)):
            self._from_dir(os.fspath(name))
        else:
            from .. import weights as wreg
            from ..registry import create_model

            key = f"{name}.{weights}"
            entry = wreg.get_entry(key)
            spec = entry.get("input") or {}
            out = entry.get("output") or {}
            if spec.get("type") != "text" or not spec.get("vocab"):
                raise ValueError(f"weights {key!r} are not a text encoder with a vocabulary (input spec {spec})")
            if out.get("pooling", "mean") != "mean":
                raise ValueError(f"SentenceEncoder does mean pooling; {key!r} asks for {out.get('pooling')!r}")
            overrides = {}
            config_key = f"{name}.config"
            if config_key in wreg.keys():
                overrides = config_from_hf(str(wreg.fetch(config_key)))
            self.name = name
            self.tokenizer = WordPieceTokenizer.from_file(wreg.fetch(spec["vocab"]),
                                                          lowercase=spec.get("lowercase", True))
            self.model = create_model(name, weights=weights, **overrides)
            self._max_length = spec.get("max_seq_length")
            self._normalize = out.get("normalize", True)
        self.model.tokenizer = self.tokenizer
        positions = self.model.config["max_position_embeddings"]
        self.max_length = int(max_length or self._max_length or positions)
        if self.max_length > positions:
            raise ValueError(f"max_length={self.max_length} exceeds the model's {positions} position embeddings")
        self.normalize = self._normalize if normalize is None else bool(normalize)
        self.embedding_dim = int(self.model.config["hidden_size"])

    def _from_dir(self, d):
        from ..tokenizers import WordPieceTokenizer

        def read(name):
            p = os.path.join(d, name)
            if not os.path.exists(p):
                return None
            with open(p, encoding="utf-8") as f:
                return json.load(f)

        missing = [f for f in ("config.json", "vocab.txt") if not os.path.exists(os.path.join(d, f))]
        weights = [f for f in ("model.safetensors", "pytorch_model.bin") if os.path.exists(os.path.join(d, f))]
        if missing or not weights:
            missing += [] if weights else ["model.safetensors"]
            raise FileNotFoundError(f"{d} is not a BERT model folder: it lacks {missing}")
        cfg = config_from_hf(read("config.json"))
        tok_cfg = read("tokenizer_config.json") or {}
        st_cfg = read("sentence_bert_config.json") or {}
        modules = read("modules.json")
        self.name = os.path.basename(os.path.normpath(d))
        self.tokenizer = WordPieceTokenizer.from_file(os.path.join(d, "vocab.txt"),
                                                      lowercase=tok_cfg.get("do_lower_case", True),
                                                      strip_accents=tok_cfg.get("strip_accents"))
        self.model = bert(**cfg, name=self.name.replace("-", "_"))
        path = os.path.join(d, weights[0])
        (load_bert_safetensors if weights[0].endswith(".safetensors") else load_bert_torch)(self.model, path)
        self._max_length = st_cfg.get("max_seq_length")
        self._normalize = True if modules is None else any(m.get("type", "").endswith("Normalize") for m in modules)

    def __repr__(self):
        return (f"SentenceEncoder({self.name!r}, dim={self.embedding_dim}, max_length={self.max_length}, "
                f"normalize={self.normalize})")

    def encode(self, sentences, batch_size=32, normalize_embeddings=None):
        """Embeddings (N, dim) float32 of a list of strings (a 1-D vector for one string). Batches
        group sentences of similar token length, so padding stays small; order is preserved."""
        single = isinstance(sentences, str)
        if single:
            sentences = [sentences]
        sentences = list(sentences)
        bad = [type(s).__name__ for s in sentences if not isinstance(s, str)]
        if bad:
            raise TypeError(f"SentenceEncoder.encode expects strings, got {bad[0]}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        normalize = self.normalize if normalize_embeddings is None else bool(normalize_embeddings)
        tok = self.tokenizer
        ids = [tok.encode(s, max_length=self.max_length) for s in sentences]
        order = np.argsort(-np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids)), kind="stable")
        out = np.zeros((len(sentences), self.embedding_dim), dtype=np.float32)
        for start in range(0, len(order), int(batch_size)):
            idx = order[start:start + int(batch_size)]
            batch = tok.pad([ids[i] for i in idx])
            out[idx] = self._embed(batch, normalize)
        return out[0] if single else out

    def _embed(self, batch, normalize):
        with no_grad():
            h = self.model(batch, training=False)
        xp = h.xp
        hd = h.data
        m = xp.asarray(batch["attention_mask"]).astype(hd.dtype)[:, :, None]
        t = hd.dtype.type
        emb = (hd * m).sum(axis=1) / xp.maximum(m.sum(axis=1), t(1e-9))
        if normalize:
            norm = xp.sqrt((emb * emb).sum(axis=1, keepdims=True))
            emb = emb / xp.maximum(norm, t(1e-12))
        return backend.to_numpy(emb).astype(np.float32, copy=False)

    def similarity(self, a, b=None):
        """Cosine similarities between the embeddings of two lists of sentences (or within one)."""
        ea = self.encode(list(a), normalize_embeddings=True)
        eb = ea if b is None else self.encode(list(b), normalize_embeddings=True)
        return ea @ eb.T


__all__ = ["BertEmbeddings", "BertLayer", "BertPooler", "MaskedMeanPooling", "BertEncoder", "BertTextClassifier",
           "bert", "minilm_l6", "config_from_hf", "load_hf_bert_state_dict", "SentenceEncoder", "ZeroMasking",
           "lstm_classifier", "gelu_exact"]
