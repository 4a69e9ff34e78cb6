"""The apps' classification metrics follow scikit-learn's definitions (labels = classes in the
truth or the predictions, zero_division=0, support-weighted averages), checked against values
worked out by hand."""
import numpy as np
import pytest

from apps.classification_report import classification_metrics, format_report


def test_hand_computed_case_with_a_class_predicted_but_never_true():
    # classes a..e; e appears nowhere, d is predicted once but never true, c is true once but never predicted
    y_true = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 3]
    m = classification_metrics(y_true, y_pred, ["a", "b", "c", "d", "e"])
    # a: P 1/1, R 1/2, F1 2/3 | b: P 2/3, R 2/2, F1 0.8 | c: 0, 0, 0 | d: 0 (0/1), 0 (0/0 -> 0), 0
    # macro over {a, b, c, d} (e is in neither): F1 (2/3 + 0.8) / 4
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 4)
    assert m["macro_precision"] == pytest.approx((1 + 2 / 3) / 4)
    assert m["macro_recall"] == pytest.approx((0.5 + 1) / 4)
    # weighted by support (2, 2, 1, 0) over 5
    assert m["weighted_f1"] == pytest.approx((2 * 2 / 3 + 2 * 0.8) / 5)
    assert m["weighted_precision"] == pytest.approx((2 * 1 + 2 * 2 / 3) / 5)
    assert m["weighted_recall"] == pytest.approx((2 * 0.5 + 2 * 1) / 5)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)


def test_the_issue_case_counts_predicted_only_classes():
    """Leaving out predicted-only classes inflates macro-F1 (the bug: 0.724 for 0.543)."""
    y_true = np.array([0] * 6 + [1] * 4)
    y_pred = np.array([0, 0, 0, 0, 2, 2, 1, 1, 1, 0])  # class 2 predicted twice, never true
    m = classification_metrics(y_true, y_pred, ["x", "y", "z"])
    f1_x = 2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6)
    f1_y = 2 * 1 * 0.75 / 1.75
    assert m["macro_f1"] == pytest.approx((f1_x + f1_y + 0) / 3)
    assert m["macro_f1"] < (f1_x + f1_y) / 2


def test_perfect_and_empty_edges():
    m = classification_metrics([1, 1], [1, 1], ["a", "b"])
    assert m["macro_f1"] == 1.0 and m["weighted_f1"] == 1.0  # only b occurs: a is not averaged
    m = classification_metrics(np.array([], np.int64), np.array([], np.int64), ["a", "b"])
    assert m["macro_f1"] == 0.0 and m["weighted_f1"] == 0.0 and m["accuracy"] == 0.0


def test_report_table_layout():
    m = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 3], ["a", "b", "c", "d", "e"])
    lines = format_report(m).splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    row_b = next(l for l in lines if l.split()[:1] == ["b"]).split()
    assert row_b == ["b", "0.6667", "1.0000", "0.8000", "2"]
    macro = next(l for l in lines if l.strip().startswith("macro avg")).split()
    assert macro[2:] == [f"{(1 + 2 / 3) / 4:.4f}", f"{1.5 / 4:.4f}", f"{(2 / 3 + 0.8) / 4:.4f}", "5"]
    assert any(l.strip().startswith("weighted avg") for l in lines)
