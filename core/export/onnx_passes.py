"""Graph passes run after conversion (``optimize_graph``), each exact (results unchanged):

- **batch-norm folding**: an inference ``BatchNormalization`` whose input comes (possibly through
  transposes that keep its channel axis in place) from a ``Conv``/``ConvTranspose`` or a
  ``MatMul`` (+ ``Add``) with constant weights, used by nothing else, is merged into those weights:
  ``W' = W * gamma / sqrt(var + eps)``, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``;
- **transpose cancellation**: a transpose of a transpose is one transpose (none when the
  permutations are inverse), and transposes are pushed below element-wise ops (unary, and n-ary
  ones whose other inputs are transposed the same way or constants, which are permuted), below
  ``Concat``, ``Softmax`` and reductions, so that the channels-last <-> channels-first pairs around
  consecutive convolutions meet and vanish;
- **clean-up**: ``Identity`` nodes are dropped (a graph output keeps its name: the producer is
  renamed), as are nodes whose results nothing uses and initializers nothing reads.

The graph is ``OnnxGraph.nodes``: tuples ``(op_type, inputs, outputs, name, attrs, domain)``.
"""
from __future__ import annotations

import numpy as np

# element-wise ops with one tensor input (other inputs, if any, must be scalar constants)
_UNARY = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus",
          "Softsign", "Clip", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Not", "Cast", "Round", "Floor", "Ceil",
          "Reciprocal", "Sin", "Cos", "Sign", "IsNaN", "IsInf", "ThresholdedRelu", "Celu", "Gelu", "Mish",
          "Identity", "Dropout"}
# element-wise ops over broadcasting inputs
_NARY = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Pow", "Where", "Equal", "Greater", "Less",
         "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "PRelu", "Mod"}
_REDUCE = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum"}
_AXES_AS_INPUT_FROM_13 = {"ReduceSum"}


def _compose(p1, p2):
    """transpose(transpose(x, p1), p2) == transpose(x, _compose(p1, p2))."""
    return [p1[j] for j in p2]


def _is_identity(perm):
    return list(perm) == list(range(len(perm)))


class _Graph:
    """A mutable view of an OnnxGraph's nodes with producer/consumer lookups."""

    def __init__(self, g):
        self.g = g
        self.nodes = [list(n) for n in g.nodes]
        self.outputs = {o[0] for o in g.outputs}
        self.graph_inputs = {i[0] for i in g.inputs}
        self.stale = True  # the graph changed since the last index (the driver sets it after a rewrite)

    def index(self):
        """The producer and consumers of every tensor; rebuilt only when the graph changed (a pass
        that returns False has changed nothing)."""
        if not self.stale:
            return
        self.stale = False
        self.nodes = [n for n in self.nodes if n[0] is not None]
        self.prod, self.cons = {}, {}
        for n in self.nodes:
            for o in n[2]:
                self.prod[o] = n
            for x in n[1]:
                if x:
                    lst = self.cons.setdefault(x, [])
                    if not lst or lst[-1] is not n:   # a node reading x twice is listed once
                        lst.append(n)

    def is_const(self, name):
        return name in self.g.initializers

    def const(self, name):
        return self.g.initializers[name]

    def only_consumer(self, name, node):
        c = self.cons.get(name, [])
        return len(c) == 1 and c[0] is node and name not in self.outputs

    def transpose_producer(self, name):
        p = self.prod.get(name)
        return p if p is not None and p[0] == "Transpose" else None

    def rename_uses(self, old, new):
        for n in self.nodes:
            if n[0] is not None and old in n[1]:
                n[1] = [new if x == old else x for x in n[1]]

    def finish(self):
        self.nodes = [n for n in self.nodes if n[0] is not None]
        self.g.nodes = [tuple(n) for n in self.nodes]
        used = {x for n in self.nodes for x in n[1] if x}
        for name in list(self.g.initializers):
            if name not in used:
                del self.g.initializers[name]
        self.g._const_cache = {k: v for k, v in self.g._const_cache.items() if v in self.g.initializers}


# --------------------------------------------------------------------------- clean-up rules
def _drop_identities(G):
    G.index()
    # every Identity whose output is not a graph output, in one sweep: its readers read its input
    alias = {}
    for n in G.nodes:
        if n[0] == "Identity" and len(n[1]) == 1 and len(n[2]) == 1 and n[2][0] not in G.outputs:
            alias[n[2][0]] = n[1][0]
            n[0] = None
    if alias:
        def source(v):
            while v in alias:
                v = alias[v]
            return v

        for n in G.nodes:
            if n[0] is not None and any(v in alias for v in n[1]):
                n[1] = [source(v) for v in n[1]]
        return True
    changed = False
    for n in G.nodes:
        if n[0] != "Identity" or len(n[1]) != 1 or len(n[2]) != 1:
            continue
        x, y = n[1][0], n[2][0]
        p = G.prod.get(x)
        if p is not None and x not in G.outputs and x not in G.graph_inputs and not G.is_const(x):
            p[2] = [y if o == x else o for o in p[2]]
            n[0] = None
            G.rename_uses(x, y)
            return True
    return changed


def _drop_dead(G):
    changed = False
    while True:
        used = {x for n in G.nodes if n[0] is not None for x in n[1] if x} | G.outputs
        dead = [n for n in G.nodes if n[0] is not None and not any(o in used for o in n[2])]
        if not dead:
            return changed
        for n in dead:
            n[0] = None
        G.nodes = [n for n in G.nodes if n[0] is not None]
        changed = True


# --------------------------------------------------------------------------- transposes
def _transpose_rules(G):
    """One sweep of the transpose rules; True if anything changed."""
    G.index()
    changed = False
    for n in G.nodes:
        if n[0] != "Transpose":
            continue
        perm = list(n[4].get("perm", []))
        if perm and _is_identity(perm):
            n[0], n[4] = "Identity", {}
            changed = True
            continue
        t1 = G.transpose_producer(n[1][0])
        if t1 is not None and t1 is not n:
            p1 = list(t1[4]["perm"])
            comp = _compose(p1, perm)
            n[1] = [t1[1][0]]
            if _is_identity(comp):
                n[0], n[4] = "Identity", {}
            else:
                n[4] = dict(n[4], perm=comp)
            changed = True
    if changed:
        return True
    return _push_transposes(G)


def _push_transposes(G):
    """Move transposes below the ops that consume them (one sweep)."""
    G.index()
    dirty, inserts, changed = set(), {}, False
    for n in G.nodes:
        if n[0] is None or any(x in dirty for x in n[1]) or len(n[2]) != 1:
            continue
        op = n[0]
        if op in _UNARY or op in _NARY:
            res = _push_elementwise(G, n)
        elif op in _REDUCE:
            res = _push_reduce(G, n)
        elif op in ("Concat", "Softmax", "LogSoftmax"):
            res = _push_axis_op(G, n)
        elif op in ("Pad", "Slice"):
            res = _push_pad_slice(G, n)
        else:
            res = None
        if res is None:
            continue
        new_nodes = res
        inserts[id(n)] = new_nodes
        for m in new_nodes:
            dirty.update(m[2])
        dirty.update(n[2])
        changed = True
    if changed:
        out = []
        for n in G.nodes:
            if n[0] is None:
                continue
            out.append(n)
            out.extend(inserts.get(id(n), []))
        G.nodes = out
    return changed


def _rename_output(G, n):
    """Give node ``n`` a fresh output name; returns (old, new)."""
    old = n[2][0]
    new = G.g.fresh(f"{old}_pre_transpose")
    n[2] = [new]
    return old, new


def _transposed_inputs(G, n, idxs):
    """The producing transposes of inputs ``idxs`` if all share one permutation and have ``n`` as
    their only consumer, else None."""
    ts, perm = [], None
    for i in idxs:
        t = G.transpose_producer(n[1][i])
        if t is None or not G.only_consumer(n[1][i], n):
            return None
        p = list(t[4]["perm"])
        if perm is None:
            perm = p
        elif p != perm:
            return None
        ts.append(t)
    return (ts, perm) if ts else None


def _push_elementwise(G, n):
    op = n[0]
    if op in _UNARY:
        tensor_idx = [0]
        const_idx = [i for i in range(1, len(n[1])) if n[1][i]]
        if any(not G.is_const(n[1][i]) or G.const(n[1][i]).size != 1 for i in const_idx):
            return None
    else:
        tensor_idx = [i for i, x in enumerate(n[1]) if x and not G.is_const(x)]
        const_idx = [i for i, x in enumerate(n[1]) if x and G.is_const(x)]
    found = _transposed_inputs(G, n, tensor_idx)
    if found is None:
        return None
    ts, perm = found
    r = len(perm)
    inv = [int(i) for i in np.argsort(perm)]
    new_inputs = list(n[1])
    for i in const_idx:
        c = G.const(n[1][i])
        if c.size == 1 or op in _UNARY:
            continue
        if c.ndim > r:
            return None
        full = c.reshape((1,) * (r - c.ndim) + c.shape)
        new_inputs[i] = G.g.const(np.ascontiguousarray(np.transpose(full, inv)), f"{n[1][i]}_perm")
    for i, t in zip(tensor_idx, ts):
        new_inputs[i] = t[1][0]
    n[1] = new_inputs
    for t in ts:
        t[0] = None  # their only consumer no longer reads them
    old, new = _rename_output(G, n)
    return [["Transpose", [new], [old], G.g.fresh(f"{n[3]}_transpose"), {"perm": perm}, ""]]


def _reduce_axes(G, n):
    """(axes list, uses_input) of a reduction, or None when not a constant."""
    if len(n[1]) > 1 and n[1][1]:
        if not G.is_const(n[1][1]):
            return None
        return [int(a) for a in G.const(n[1][1]).reshape(-1)], True
    if "axes" in n[4]:
        return [int(a) for a in n[4]["axes"]], False
    return None


def _push_reduce(G, n):
    found = _transposed_inputs(G, n, [0])
    ax = _reduce_axes(G, n)
    if found is None or ax is None or not ax[0]:
        return None
    (t,), perm = found
    axes, as_input = ax
    r = len(perm)
    axes = sorted({a % r for a in axes})
    new_axes = sorted(perm[a] for a in axes)
    keep = int(n[4].get("keepdims", 1))
    n[1] = [t[1][0]] + ([G.g.ints(new_axes, "axes")] if as_input else [])
    if not as_input:
        n[4] = dict(n[4], axes=new_axes)
    t[0] = None
    if keep:
        out_perm = perm
    else:
        rest = [perm[j] for j in range(r) if j not in axes]
        order = sorted(rest)
        out_perm = [order.index(v) for v in rest]
        if _is_identity(out_perm):
            return []
    old, new = _rename_output(G, n)
    return [["Transpose", [new], [old], G.g.fresh(f"{n[3]}_transpose"), {"perm": out_perm}, ""]]


def _push_axis_op(G, n):
    idxs = list(range(len(n[1])))
    found = _transposed_inputs(G, n, idxs)
    if found is None:
        return None
    ts, perm = found
    r = len(perm)
    axis = int(n[4].get("axis", -1 if n[0] != "Concat" else 0)) % r
    n[1] = [t[1][0] for t in ts]
    n[4] = dict(n[4], axis=perm[axis])
    for t in ts:
        t[0] = None
    old, new = _rename_output(G, n)
    return [["Transpose", [new], [old], G.g.fresh(f"{n[3]}_transpose"), {"perm": perm}, ""]]


def _push_pad_slice(G, n):
    """``Pad`` (constant pads, no axes input) and ``Slice`` (constant axes) act per axis: permute
    the pads / axes instead."""
    found = _transposed_inputs(G, n, [0])
    if found is None:
        return None
    (t,), perm = found
    r = len(perm)
    if n[0] == "Pad":
        if len(n[1]) < 2 or not G.is_const(n[1][1]) or (len(n[1]) > 3 and n[1][3]):
            return None
        pads = [int(v) for v in G.const(n[1][1]).reshape(-1)]
        if len(pads) != 2 * r:
            return None
        new = [0] * (2 * r)
        for j in range(r):
            new[perm[j]], new[r + perm[j]] = pads[j], pads[r + j]
        n[1] = [t[1][0], G.g.ints(new, "pads")] + n[1][2:]
    else:
        if len(n[1]) > 3 and n[1][3]:
            if not G.is_const(n[1][3]):
                return None
            axes = [int(a) for a in G.const(n[1][3]).reshape(-1)]
        else:
            if not G.is_const(n[1][1]):
                return None
            axes = list(range(G.const(n[1][1]).size))
        new_axes = [perm[a % r] for a in axes]
        args = list(n[1]) + [""] * (4 - len(n[1]))
        args[0], args[3] = t[1][0], G.g.ints(new_axes, "axes")
        n[1] = args
    t[0] = None
    old, new_name = _rename_output(G, n)
    return [["Transpose", [new_name], [old], G.g.fresh(f"{n[3]}_transpose"), {"perm": perm}, ""]]


def _fuse_pad_conv(G):
    """A zero ``Pad`` of the spatial axes only, read only by a ``Conv`` with explicit pads (directly
    or through a layout transpose), becomes part of the Conv's pads; also a ``MaxPool``'s, when
    the padded values are >= 0 (after a ReLU) so that a zero never wins over a real cell."""
    G.index()
    for conv in G.nodes:
        if conv[0] not in ("Conv", "MaxPool") or conv[4].get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET"):
            continue
        if not G.only_consumer(conv[1][0], conv):
            continue
        pad, perm, t = G.prod.get(conv[1][0]), None, None
        if pad is not None and pad[0] == "Transpose":  # Pad (channels-last) -> Transpose -> Conv
            t, perm = pad, list(pad[4]["perm"])
            if not G.only_consumer(t[1][0], t):
                continue
            pad = G.prod.get(t[1][0])
        if pad is None or pad[0] != "Pad":
            continue
        if pad[4].get("mode", "constant") not in ("constant", b"constant") or len(pad[1]) < 2 \
                or not G.is_const(pad[1][1]) or (len(pad[1]) > 3 and pad[1][3]):
            continue
        if len(pad[1]) > 2 and pad[1][2] and (not G.is_const(pad[1][2]) or np.any(G.const(pad[1][2]) != 0)):
            continue
        pads = [int(v) for v in G.const(pad[1][1]).reshape(-1)]
        r = len(pads) // 2
        if perm is not None:
            if len(perm) != r:
                continue
            pads = [pads[perm[j]] for j in range(r)] + [pads[r + perm[j]] for j in range(r)]
        if r < 3 or any(v < 0 for v in pads) or pads[0] or pads[1] or pads[r] or pads[r + 1]:
            continue
        k = r - 2
        old = list(conv[4].get("pads", [0] * (2 * k)))
        new = [old[i] + pads[2 + i] for i in range(k)] + [old[k + i] + pads[r + 2 + i] for i in range(k)]
        if conv[0] == "MaxPool":  # zeros equal MaxPool's ignored padding only for inputs >= 0 ...
            src = G.prod.get(pad[1][0])
            nonneg = src is not None and (src[0] in ("Relu", "Sigmoid", "Softplus") or (
                src[0] == "Clip" and len(src[1]) > 1 and src[1][1] and G.is_const(src[1][1])
                and float(G.const(src[1][1])) >= 0))
            kernel = list(conv[4].get("kernel_shape", []))
            # ... and when every window keeps a real cell
            if not nonneg or len(kernel) != k or any(new[i] >= kernel[i % k] for i in range(2 * k)):
                continue
        if t is not None:
            t[1] = [pad[1][0]]
        else:
            conv[1] = [pad[1][0]] + conv[1][1:]
        conv[4] = dict(conv[4], pads=new)
        return True
    return False


# --------------------------------------------------------------------------- batch-norm folding
def _fold_batchnorm(G):
    """Fold every foldable BatchNormalization in one sweep (each folds into its own single-use
    producer, so one fold does not change another's); a fold that inserts a node ends the sweep."""
    G.index()
    folded = False
    for bn in list(G.nodes):
        if bn[0] != "BatchNormalization" or len(bn[2]) != 1 or len(bn[1]) != 5:
            continue
        if not all(G.is_const(x) for x in bn[1][1:]):
            continue
        x = bn[1][0]
        # walk back through single-use transposes, tracking where BN's axis 1 comes from
        chain_perm, cur, consumer, ok = None, x, bn, True
        while True:
            if not G.only_consumer(cur, consumer):
                ok = False
                break
            t = G.transpose_producer(cur)
            if t is None:
                break
            p = list(t[4]["perm"])
            chain_perm = p if chain_perm is None else _compose(p, chain_perm)
            consumer, cur = t, t[1][0]
        if not ok:
            continue
        prod = G.prod.get(cur)
        if prod is None:
            continue
        scale, beta, mean, var = (G.const(a).astype(np.float64) for a in bn[1][1:])
        eps = float(bn[4].get("epsilon", 1e-5))
        s = scale / np.sqrt(var + eps)
        shift = beta - mean * s
        src_axis = 1 if chain_perm is None else chain_perm[1]
        inserted = False
        if prod[0] in ("Conv", "ConvTranspose"):
            if src_axis != 1 or not _fold_conv(G, prod, s, mean, beta):
                continue
        elif prod[0] in ("Add", "MatMul"):
            rank = len(chain_perm) if chain_perm is not None else _rank(G, x)
            n_before = len(G.nodes)
            if rank is None or src_axis != rank - 1 or not _fold_matmul(G, prod, cur, s, shift, mean, beta):
                continue
            inserted = len(G.nodes) != n_before
        else:
            continue
        bn[0], bn[1], bn[4] = "Identity", [x], {}
        folded = True
        if inserted:   # the producer/consumer tables no longer describe the graph
            return True
    return folded


def _rank(G, name):
    shape = G.g.shapes.get(name)
    return len(shape) if shape is not None else None


def _f32(a):
    return np.ascontiguousarray(a.astype(np.float32))


def _fold_conv(G, conv, s, mean, beta):
    w_name = conv[1][1]
    if not G.is_const(w_name) or (len(conv[1]) > 2 and conv[1][2] and not G.is_const(conv[1][2])):
        return False
    w = G.const(w_name).astype(np.float64)
    cout = s.shape[0]
    if conv[0] == "Conv":
        if w.shape[0] != cout:
            return False
        w2 = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    else:  # ConvTranspose: W (Cin, Cout / group, k...)
        if int(conv[4].get("group", 1)) != 1 or w.shape[1] != cout:
            return False
        w2 = w * s.reshape((1, -1) + (1,) * (w.ndim - 2))
    b = G.const(conv[1][2]).astype(np.float64) if len(conv[1]) > 2 and conv[1][2] else np.zeros(cout)
    b2 = (b - mean) * s + beta
    conv[1] = [conv[1][0], G.g.const(_f32(w2), f"{w_name}_bnfold"), G.g.const(_f32(b2), f"{conv[3]}_bias_bnfold")]
    return True


def _fold_matmul(G, prod, out_name, s, shift, mean, beta):
    """Fold into ``MatMul(x, W)`` (+ ``Add`` of a constant bias) producing ``out_name``."""
    add = None
    if prod[0] == "Add":
        add = prod
        consts = [i for i, v in enumerate(add[1]) if G.is_const(v)]
        if len(consts) != 1:
            return False
        mm = G.prod.get(add[1][1 - consts[0]])
        if mm is None or mm[0] != "MatMul" or not G.only_consumer(mm[2][0], add):
            return False
        bias = G.const(add[1][consts[0]]).astype(np.float64)
        if bias.size not in (1, s.size) or bias.ndim > 1:
            return False
    else:
        mm = prod
    w_name = mm[1][1]
    if not G.is_const(w_name) or G.const(w_name).ndim != 2 or G.const(w_name).shape[1] != s.size:
        return False
    w2 = G.const(w_name).astype(np.float64) * s[None, :]
    mm[1] = [mm[1][0], G.g.const(_f32(w2), f"{w_name}_bnfold")]
    if add is not None:
        b2 = (np.broadcast_to(bias.reshape(-1), s.shape) - mean) * s + beta
        add[1][consts[0]] = G.g.const(_f32(b2), f"{mm[3]}_bias_bnfold")
    else:
        new = G.g.fresh(f"{out_name}_matmul")
        mm[2] = [new]
        idx = next(i for i, n in enumerate(G.nodes) if n is mm)
        G.nodes.insert(idx + 1, ["Add", [new, G.g.const(_f32(shift), f"{mm[3]}_bias_bnfold")], [out_name],
                                 G.g.fresh(f"{mm[3]}_bias"), {}, ""])
    return True


# --------------------------------------------------------------------------- driver
def optimize_graph(g, fold_batchnorm=True, cancel_transposes=True):
    """Run the passes on OnnxGraph ``g`` in place until nothing changes; returns ``g``."""
    G = _Graph(g)
    for _ in range(100000):  # each round shrinks the graph or moves a transpose down: it ends
        G.stale = True
        if _drop_identities(G) or _drop_dead(G):
            continue
        if fold_batchnorm and _fold_batchnorm(G):
            continue
        if cancel_transposes and (_transpose_rules(G) or _fuse_pad_conv(G)):
            continue
        break
    G.finish()
    return g


__all__ = ["optimize_graph"]
