"""core.tree gives what keras.tree (Keras 3.15.1) gives on the same structures
(tests/fixtures/keras_tree.json, made by tests/fixtures/make_tree_fixtures.py in a Keras venv)."""
import json
import os

import pytest

from core import tree
from fixtures.make_tree_fixtures import cases

KERAS = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "keras_tree.json")))


@pytest.mark.parametrize("name", sorted(KERAS))
def test_same_as_keras_tree(name):
    assert cases(tree, tree.MAP_TO_NONE)[name] == KERAS[name]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same nested structure"):
        tree.map_structure(lambda a, b: a, [1, 2], [1, [2]])
    with pytest.raises(ValueError, match="3 leaves"):
        tree.pack_sequence_as([1, (2, 3)], [1, 2])
    with pytest.raises(TypeError, match="callable"):
        tree.traverse(None, [1])
    with pytest.raises(ValueError, match="same paths"):
        tree.assert_same_paths({"a": 1}, {"b": 1})
    tree.assert_same_paths([1, (2,)], (1, [2]))  # sequence kinds may differ


def test_reachable_as_keras_tree():
    import core as keras

    assert keras.tree.flatten({"b": 2, "a": 1}) == [1, 2]
