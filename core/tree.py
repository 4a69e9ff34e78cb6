"""Nested structures as ``keras.tree`` handles them: lists, tuples, namedtuples, dicts (values in
sorted-key order; an ``OrderedDict`` in its own order) and deques are nested; everything else,
``None`` included, is a leaf."""
from __future__ import annotations

import collections

MAP_TO_NONE = object()  # a ``traverse`` function returns this to replace a sub-tree with None


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(structure) -> bool:
    """True for a sequence (list, tuple, deque), a mapping or a namedtuple."""
    return isinstance(structure, (list, tuple, dict, collections.deque))


def _keys(d):
    if isinstance(d, collections.OrderedDict):
        return list(d)
    try:
        return sorted(d)
    except TypeError:
        raise TypeError(f"keras.tree: dict keys must be sortable, got {list(d)!r}") from None


def _children(structure):
    if isinstance(structure, dict):
        return [structure[k] for k in _keys(structure)]
    return list(structure)


def _rebuild(structure, children):
    if isinstance(structure, dict):
        keys = _keys(structure)
        values = dict(zip(keys, children))
        if isinstance(structure, collections.defaultdict):
            out = collections.defaultdict(structure.default_factory)
            out.update((k, values[k]) for k in structure)
            return out
        return type(structure)((k, values[k]) for k in structure)
    if _is_namedtuple(structure):
        return type(structure)(*children)
    if isinstance(structure, collections.deque):
        return collections.deque(children, maxlen=structure.maxlen)
    return type(structure)(children)


def flatten(structure) -> list:
    """The leaves of ``structure`` in order: ``flatten({100: 'world!', 6: 'Hello'})`` is
    ``['Hello', 'world!']``, ``flatten(None)`` is ``[None]``."""
    if not is_nested(structure):
        return [structure]
    out = []
    for child in _children(structure):
        out.extend(flatten(child))
    return out


def flatten_with_path(structure) -> list:
    """``[(path, leaf), ...]``: a path is the tuple of indices and keys leading to the leaf."""
    if not is_nested(structure):
        return [((), structure)]
    keys = _keys(structure) if isinstance(structure, dict) else range(len(structure))
    out = []
    for key, child in zip(keys, _children(structure)):
        out.extend(((key,) + path, leaf) for path, leaf in flatten_with_path(child))
    return out


def _same_structure(a, b, loose):
    if is_nested(a) != is_nested(b):
        return False
    if not is_nested(a):
        return True
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            return False
    elif not loose and (type(a) is not type(b)):
        return False
    if len(a) != len(b):
        return False
    return all(_same_structure(x, y, loose) for x, y in zip(_children(a), _children(b)))


def assert_same_structure(a, b, check_types=None):
    """Raise ValueError unless ``a`` and ``b`` nest the same way (list, tuple, each namedtuple
    class and deque are different structures; dict kinds are alike when their keys are)."""
    if not _same_structure(a, b, loose=False):
        raise ValueError(f"The two structures don't have the same nested structure: {a!r} and {b!r}")


def assert_same_paths(a, b):
    """Raise ValueError unless ``a`` and ``b`` have the same leaf paths (sequence kinds may differ)."""
    pa, pb = {p for p, _ in flatten_with_path(a)}, {p for p, _ in flatten_with_path(b)}
    if pa != pb:
        raise ValueError(f"The two structures don't have the same paths: {sorted(map(str, pa ^ pb))}")


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied leaf by leaf to structures of the same shape; the result has the first's shape.
    With ``none_is_leaf=False``, a None in the first structure is kept as None without calling ``func``."""
    if not callable(func):
        raise TypeError(f"map_structure: func must be callable, got {func!r}")
    if not structures:
        raise ValueError("map_structure: give at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)

    def walk(*xs):
        if not is_nested(xs[0]):
            if xs[0] is None and not none_is_leaf:
                return None
            return func(*xs)
        return _rebuild(xs[0], [walk(*children) for children in zip(*map(_children, xs))])

    return walk(*structures)


def map_structure_up_to(shallow_structure, func, *structures):
    """``map_structure`` down to the leaves of ``shallow_structure`` only: deeper parts of
    ``structures`` are handed to ``func`` whole."""
    def walk(shallow, *xs):
        if not is_nested(shallow):
            return func(*xs)
        for x in xs:
            if not is_nested(x) or len(x) != len(shallow):
                raise ValueError(f"map_structure_up_to: {x!r} does not match the shallow structure {shallow!r}")
        return _rebuild(shallow, [walk(s, *c) for s, *c in zip(_children(shallow), *map(_children, xs))])

    return walk(shallow_structure, *structures)


def pack_sequence_as(structure, flat_sequence):
    """``flat_sequence`` in the shape of ``structure`` (the inverse of ``flatten``)."""
    flat = list(flat_sequence)
    n = len(flatten(structure))
    if len(flat) != n:
        raise ValueError(f"pack_sequence_as: the structure has {n} leaves, the flat sequence {len(flat)} elements")
    it = iter(flat)

    def walk(s):
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [walk(c) for c in _children(s)])

    return walk(structure)


def traverse(func, structure, top_down=True):
    """Depth-first traversal. Top-down: where ``func(subtree)`` is not None it replaces the
    sub-tree (``MAP_TO_NONE`` for None) and the walk does not go into it. Bottom-up: children are
    traversed first, then ``func`` sees the rebuilt sub-tree and, if not None, replaces it."""
    if not callable(func):
        raise TypeError(f"traverse: func must be callable, got {func!r}")

    def done(value):
        return None if value is MAP_TO_NONE else value

    def walk(s):
        if top_down:
            out = func(s)
            if out is not None:
                return done(out)
            return _rebuild(s, [walk(c) for c in _children(s)]) if is_nested(s) else s
        rebuilt = _rebuild(s, [walk(c) for c in _children(s)]) if is_nested(s) else s
        out = func(rebuilt)
        return rebuilt if out is None else done(out)

    return walk(structure)


def lists_to_tuples(structure):
    """Every list in ``structure`` turned into a tuple."""
    def walk(s):
        if not is_nested(s):
            return s
        children = [walk(c) for c in _children(s)]
        return tuple(children) if isinstance(s, list) else _rebuild(s, children)

    return walk(structure)


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def map_shape_structure(func, structure):
    """``func`` applied to each shape in ``structure`` (a tuple or list of ints and Nones is a shape)."""
    if _is_shape(structure):
        return func(tuple(structure))
    if is_nested(structure):
        return _rebuild(structure, [map_shape_structure(func, c) for c in _children(structure)])
    return func(structure)


__all__ = ["MAP_TO_NONE", "is_nested", "flatten", "flatten_with_path", "assert_same_structure", "assert_same_paths",
           "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse", "lists_to_tuples",
           "map_shape_structure"]
