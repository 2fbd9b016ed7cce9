"""prunefuse_sk.metrics: AUBC, learning-curve/AUBC/cost tables and plain-text tables, against hand
computations."""

import math

import numpy as np
import pytest

from prunefuse_sk.exceptions import InvalidParameterError, LengthMismatchError, NonFiniteInputError
from prunefuse_sk.metrics import aubc, aubc_table, cost_table, format_table, learning_curve_table


# --------------------------------------------------------------------- aubc
def test_aubc_hand_computation():
    # area = 100*(0.5+0.7)/2 + 200*(0.7+0.8)/2 = 60 + 150 = 210; budget range 300
    assert aubc([100, 200, 400], [0.5, 0.7, 0.8]) == pytest.approx(0.7)
    assert aubc([100, 200, 400], [0.5, 0.7, 0.8], normalize=False) == pytest.approx(210.0)


def test_aubc_sorts_by_n_labels():
    assert aubc([400, 100, 200], [0.8, 0.5, 0.7]) == pytest.approx(0.7)
    assert aubc(
        np.array([400, 100, 200]), np.array([0.8, 0.5, 0.7]), normalize=False
    ) == pytest.approx(210.0)


def test_aubc_constant_curve_is_that_constant_and_bounded():
    assert aubc([10, 20, 55, 90], [0.42] * 4) == pytest.approx(0.42)
    rng = np.random.RandomState(0)
    x = np.sort(rng.choice(1000, size=8, replace=False))
    y = rng.uniform(size=8)
    assert y.min() <= aubc(x, y) <= y.max()


def test_aubc_single_point():
    assert aubc([100], [0.83]) == 0.83
    assert aubc([100], [0.83], normalize=False) == 0.0
    assert isinstance(aubc([100], [0.83]), float)


@pytest.mark.parametrize(
    "n_labels, accuracy, error, match",
    [
        ([100, 200], [0.5], LengthMismatchError, "same length"),
        ([], [], ValueError, "at least one point"),
        ([100, 200], [0.5, np.nan], NonFiniteInputError, "accuracy contains NaN"),
        ([100, np.inf], [0.5, 0.6], NonFiniteInputError, "n_labels contains NaN or infinity"),
        ([100, 200, 100], [0.5, 0.6, 0.7], ValueError, r"distinct; \[100.0\]"),
        ([[100, 200]], [[0.5, 0.6]], ValueError, "1-D"),
        (["a", "b"], [0.5, 0.6], TypeError, "real numbers"),
        ([100, 200], [True, False], TypeError, "real numbers"),
    ],
)
def test_aubc_bad_input(n_labels, accuracy, error, match):
    with pytest.raises(error, match=match):
        aubc(n_labels, accuracy)


def test_aubc_normalize_must_be_bool():
    with pytest.raises(InvalidParameterError, match="normalize"):
        aubc([1, 2], [0.1, 0.2], normalize="yes")


# -------------------------------------------------------------- the records
def _records():
    """Two methods, two seeds, three rounds; accuracies chosen for easy hand means."""
    acc = {
        ("full", 0): [0.5, 0.7, 0.8],
        ("full", 1): [0.7, 0.9, 1.0],
        ("random", 0): [0.4, 0.5, 0.6],
        ("random", 1): [0.4, 0.7, 0.6],
    }
    flops = {"full": [0.0, 4e9, 4e9], "random": [0.0, 0.0, 0.0]}
    seconds = {
        ("full", 0): [0.0, 1.0, 2.0],
        ("full", 1): [0.0, 3.0, 4.0],
        ("random", 0): [0.0, 0.1, 0.1],
        ("random", 1): [0.0, 0.1, 0.3],
    }
    records = []
    for (method, seed), accs in acc.items():
        for rnd, (n, a) in enumerate(zip([100, 200, 400], accs)):
            records.append(
                {
                    "method": method,
                    "seed": seed,
                    "round": rnd,
                    "n_labels": n,
                    "accuracy": a,
                    "selector_accuracy": a - 0.1 if method == "full" else math.nan,
                    "selection_flops": flops[method][rnd],
                    "selection_seconds": seconds[method, seed][rnd],
                    "stop_reason": None,
                }
            )
    return records


def test_learning_curve_table_means_and_population_std():
    rows = learning_curve_table(_records()[::-1])  # input order does not matter
    assert [(r["method"], r["n_labels"]) for r in rows] == [
        ("full", 100),
        ("full", 200),
        ("full", 400),
        ("random", 100),
        ("random", 200),
        ("random", 400),
    ]
    by_key = {(r["method"], r["n_labels"]): r for r in rows}
    assert by_key["full", 100]["mean"] == pytest.approx(0.6)
    assert by_key["full", 100]["std"] == pytest.approx(0.1)  # ddof=0: |0.5 - 0.7| / 2
    assert by_key["random", 100]["std"] == pytest.approx(0.0)
    assert by_key["random", 200]["mean"] == pytest.approx(0.6)
    assert by_key["random", 200]["std"] == pytest.approx(0.1)
    assert all(r["n_seeds"] == 2 for r in rows)
    assert isinstance(by_key["full", 100]["n_labels"], int)


def test_learning_curve_table_skips_nan_metric():
    rows = learning_curve_table(_records(), metric="selector_accuracy")
    full = [r for r in rows if r["method"] == "full"]
    random_rows = [r for r in rows if r["method"] == "random"]
    assert full[0]["mean"] == pytest.approx(0.5)
    assert all(
        math.isnan(r["mean"]) and math.isnan(r["std"]) and r["n_seeds"] == 0 for r in random_rows
    )


def test_learning_curve_table_uneven_seeds():
    records = [
        r for r in _records() if not (r["method"] == "full" and r["seed"] == 1 and r["round"] == 2)
    ]
    rows = {(r["method"], r["n_labels"]): r for r in learning_curve_table(records)}
    assert rows["full", 400]["n_seeds"] == 1
    assert rows["full", 400]["mean"] == pytest.approx(0.8)
    assert rows["full", 400]["std"] == 0.0


def test_learning_curve_table_accepts_a_dataframe():
    pd = pytest.importorskip("pandas")
    assert learning_curve_table(pd.DataFrame(_records())) == learning_curve_table(_records())


def test_aubc_table_per_seed_mean_std():
    rows = aubc_table(_records())
    assert [r["method"] for r in rows] == ["full", "random"]
    full = rows[0]
    assert list(full["per_seed"]) == [0, 1]
    assert full["per_seed"][0] == pytest.approx(0.7)  # the hand computation above
    assert full["per_seed"][1] == pytest.approx((100 * 1.6 / 2 + 200 * 1.9 / 2) / 300)  # 0.9
    assert full["aubc_mean"] == pytest.approx(0.8)
    assert full["aubc_std"] == pytest.approx(0.1)
    assert full["n_seeds"] == 2
    random_row = rows[1]
    # seed 0: (100*0.9/2 + 200*1.1/2)/300 = 155/300; seed 1: (100*1.1/2 + 200*1.3/2)/300 = 185/300
    assert random_row["per_seed"][0] == pytest.approx(155 / 300)
    assert random_row["per_seed"][1] == pytest.approx(185 / 300)
    assert random_row["aubc_std"] == pytest.approx(15 / 300)


def test_aubc_table_nan_metric_gives_nan():
    rows = {r["method"]: r for r in aubc_table(_records(), metric="selector_accuracy")}
    assert rows["full"]["aubc_mean"] == pytest.approx(0.7)
    assert math.isnan(rows["random"]["aubc_mean"]) and rows["random"]["n_seeds"] == 0
    assert aubc_table(_records(), normalize=False)[0]["per_seed"][0] == pytest.approx(210.0)


def test_cost_table_totals_and_ratios():
    rows = {r["method"]: r for r in cost_table(_records())}
    assert rows["full"]["selection_flops"] == pytest.approx(8e9)
    assert rows["full"]["selection_seconds"] == pytest.approx((3.0 + 7.0) / 2)
    assert rows["full"]["selection_flops_ratio"] == pytest.approx(1.0)
    assert rows["random"]["selection_flops"] == 0.0
    assert rows["random"]["selection_flops_ratio"] == 0.0
    assert rows["random"]["selection_seconds"] == pytest.approx((0.2 + 0.4) / 2)
    assert rows["random"]["selection_seconds_ratio"] == pytest.approx(0.3 / 5.0)
    assert rows["full"]["n_seeds"] == 2


def test_cost_table_missing_baseline_gives_nan():
    rows = cost_table(_records(), baseline="proxy")
    assert all(
        math.isnan(r["selection_flops_ratio"]) and math.isnan(r["selection_seconds_ratio"])
        for r in rows
    )
    rows = cost_table(_records(), baseline=None)
    assert all(math.isnan(r["selection_flops_ratio"]) for r in rows)
    rows = {r["method"]: r for r in cost_table(_records(), baseline="random")}
    assert math.isinf(rows["full"]["selection_flops_ratio"])  # x / 0
    assert rows["full"]["selection_seconds_ratio"] == pytest.approx(5.0 / 0.3)


def test_tables_accept_a_generator():
    assert len(cost_table(r for r in _records())) == 2
    assert len(aubc_table(r for r in _records())) == 2


@pytest.mark.parametrize(
    "records, error, match",
    [
        ([], ValueError, "records is empty"),
        ({"method": "x"}, TypeError, "list of dicts"),
        ("abc", TypeError, "list of dicts"),
        ([1, 2], TypeError, r"records\[0\] must be a dict"),
        (
            [{"method": "full", "seed": 0, "n_labels": 10}],
            ValueError,
            r"lacks the key\(s\) \['accuracy'\]",
        ),
        (
            [{"method": 3, "seed": 0, "n_labels": 10, "accuracy": 0.5}],
            TypeError,
            "'method'.* must be a str",
        ),
        (
            [{"method": "a", "seed": 0, "n_labels": 10, "accuracy": "high"}],
            TypeError,
            "real number",
        ),
        (
            [{"method": "a", "seed": 0, "n_labels": math.nan, "accuracy": 0.5}],
            NonFiniteInputError,
            "finite",
        ),
        (
            [{"method": "a", "seed": 0, "n_labels": 10, "accuracy": 0.5}] * 2,
            ValueError,
            "repeats method='a', seed=0, n_labels=10",
        ),
    ],
)
def test_learning_curve_table_bad_records(records, error, match):
    with pytest.raises(error, match=match):
        learning_curve_table(records)


def test_table_parameter_errors():
    with pytest.raises(InvalidParameterError, match="metric"):
        learning_curve_table(_records(), metric=3)
    with pytest.raises(InvalidParameterError, match="baseline"):
        cost_table(_records(), baseline=0)
    with pytest.raises(ValueError, match="lacks the key"):
        cost_table([{"method": "a", "seed": 0, "round": 0, "selection_flops": 1.0}])
    dup = [dict(r, n_labels=r["n_labels"] + i) for i, r in enumerate(_records())] + [_records()[0]]
    with pytest.raises(ValueError, match="repeats method='full', seed=0, round=0"):
        cost_table(dup)


# ------------------------------------------------------------- format_table
def test_format_table_alignment_and_formats():
    rows = [
        {"method": "full", "n": 100, "acc": 0.81234, "flops": 1.5e9},
        {"method": "prunefuse-p0.5", "n": 2000, "acc": math.nan, "flops": None},
    ]
    text = format_table(
        rows, ["method", ("n", "labels"), "acc", "flops"], floatfmt={"flops": ".2e"}
    )
    lines = text.split("\n")
    assert lines[0].split() == ["method", "labels", "acc", "flops"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["full", "100", "0.812", "1.50e+09"]
    assert lines[3].split() == ["prunefuse-p0.5", "2000", "nan"]
    assert len({len(line) for line in lines[:3]}) == 1  # full-width lines line up
    # numbers right-aligned: the last digit of each "labels" cell sits under the header's end
    end = lines[0].index("labels") + len("labels")
    assert lines[2][end - 3 : end] == "100" and lines[3][end - 4 : end] == "2000"
    # strings left-aligned
    assert lines[2].startswith("full ")


def test_format_table_defaults_and_metrics_rows():
    text = format_table(aubc_table(_records()), ["method", "aubc_mean", "aubc_std"])
    assert "0.800" in text and "0.100" in text and "random" in text
    assert format_table([{"a": 1, "b": "x"}]).split("\n")[2].split() == ["1", "x"]
    assert format_table([], ["a"]).split("\n")[0] == "a"
    assert format_table([{"a": 0.5}], ["a", "missing"]).split("\n")[2].strip() == "0.500"


def test_format_table_errors():
    with pytest.raises(InvalidParameterError, match="floatfmt"):
        format_table([{"a": 0.5}], ["a"], floatfmt="q")
    with pytest.raises(InvalidParameterError, match="floatfmt"):
        format_table([{"a": 0.5}], ["a"], floatfmt=3)
    with pytest.raises(InvalidParameterError, match="columns"):
        format_table([{"a": 0.5}], "a")
    with pytest.raises(TypeError, match="rows must be"):
        format_table({"a": 0.5}, ["a"])
    with pytest.raises(TypeError, match=r"rows\[0\]"):
        format_table([0.5], ["a"])
