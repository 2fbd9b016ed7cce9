"""simulate(): every method on the same initial sets, probe-batch FLOP counts and measured times,
exports, T_sync."""

import contextlib
import csv
import math

import numpy as np
import pytest
import torch

from prunefuse_sk import InvalidParameterError, PruneFuseActiveLearner
from prunefuse_sk.networks import SmallCNN
from prunefuse_sk.simulation import RECORD_FIELDS, MethodSpec, SimulationResults, simulate

from conftest import make_net, state_equal


def cnn(width=20, hidden=40, epochs=1):
    # widths divisible by 10: p=0.5 and p=0.7 keep exactly half and 3/10 of every layer
    return make_net(SmallCNN, module__width=width, module__hidden=hidden, max_epochs=epochs)


@pytest.fixture(scope="module")
def data(digits):
    X, X_test, y, y_test = digits
    return X[:500], y[:500], X_test[:150], y_test[:150]


@pytest.fixture(scope="module")
def results(data):
    X, y, X_test, y_test = data
    return simulate(
        cnn(),
        X,
        y,
        X_test,
        y_test,
        methods=["random", "full", "proxy", "prunefuse", "prunefuse-p0.7"],
        proxy_estimator=cnn(width=4, hidden=8),
        initial_size=40,
        batch_sizes=[20, 30],
        seeds=[0, 1],
        progress=False,
    )


def test_every_method_runs_every_round_from_the_same_initial_set(results):
    methods = ["random", "full", "proxy", "prunefuse", "prunefuse-p0.7"]
    assert results.methods == methods
    assert len(results) == len(methods) * 2 * 3
    for record in results:
        assert set(RECORD_FIELDS) <= set(record)
        assert 0.0 <= record["accuracy"] <= 1.0
        assert record["selection_seconds"] == pytest.approx(
            record["selector_train_seconds"] + record["scoring_seconds"]
        )
    for seed in (0, 1):
        initial = [results.selections[m][seed][0] for m in methods]
        assert all(np.array_equal(initial[0], other) for other in initial[1:])
        for method in methods:
            batches = results.selections[method][seed]
            assert [len(b) for b in batches] == [40, 20, 30]
            labelled = np.concatenate(batches)
            assert len(np.unique(labelled)) == len(labelled)  # nothing labelled twice
            n_labels = [
                r["n_labels"] for r in results if r["method"] == method and r["seed"] == seed
            ]
            assert n_labels == [40, 60, 90]
    assert not np.array_equal(
        results.selections["random"][0][0], results.selections["random"][1][0]
    )
    by = {(r["method"], r["seed"], r["round"]): r for r in results}
    # a selector is reported where there is one; the full method's selector is its final model
    assert (
        math.isnan(by["random", 0, 1]["selector_accuracy"])
        and by["random", 0, 1]["selection_flops"] == 0
    )
    assert by["full", 0, 1]["selector_accuracy"] == by["full", 0, 1]["accuracy"]
    assert (
        0 <= by["prunefuse", 0, 1]["selector_accuracy"] <= 1
        and by["proxy", 0, 1]["training_flops"] > 0
    )


@pytest.mark.parametrize("ratio, method", [(0.5, "prunefuse"), (0.7, "prunefuse-p0.7")])
def test_the_prunefuse_selector_costs_about_one_minus_p_squared_of_the_full_one(
    results, ratio, method
):
    by = {(r["method"], r["seed"], r["round"]): r for r in results}
    for seed in (0, 1):
        for round_ in (0, 1, 2):
            full, pf = by["full", seed, round_], by[method, seed, round_]
            assert (
                pf["n_labels"] == full["n_labels"]
                and pf["selector_epochs"] == full["selector_epochs"]
            )
            # same labels, epochs and pool: the FLOP ratio is the network's, measured by
            # FlopCounterMode
            assert pf["selection_flops"] / full["selection_flops"] == pytest.approx(
                (1 - ratio) ** 2, rel=0.15
            )
    # the last round scores nothing: selection FLOPs = training FLOPs of the selector only
    assert by["full", 0, 2]["scoring_seconds"] == 0


def test_results_export_to_json_csv_and_back(results, tmp_path):
    results.to_json(tmp_path / "r.json")
    back = SimulationResults.from_json(tmp_path / "r.json")
    assert len(back) == len(results) and back.config["batch_sizes"] == [20, 30]
    for a, b in zip(results, back):
        for key in RECORD_FIELDS:
            if isinstance(a[key], float) and math.isnan(a[key]):
                assert math.isnan(b[key])
            else:
                assert a[key] == b[key]
    assert np.array_equal(back.selections["full"][1][2], results.selections["full"][1][2])
    results.to_csv(tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(results) and list(rows[0]) == list(RECORD_FIELDS)
    assert float(rows[3]["accuracy"]) == pytest.approx(results[3]["accuracy"])
    pd = pytest.importorskip("pandas")
    frame = results.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (len(results), len(RECORD_FIELDS))


def test_the_same_seeds_give_the_same_simulation(data):
    X, y, X_test, y_test = data

    def run():
        return simulate(
            cnn(),
            X,
            y,
            X_test,
            y_test,
            methods=["full", "prunefuse"],
            initial_size=30,
            batch_sizes=[15],
            seeds=[3],
            progress=False,
        )

    a, b = run(), run()
    assert [r["accuracy"] for r in a] == [r["accuracy"] for r in b]
    assert all(
        np.array_equal(x, z) for x, z in zip(a.selections["full"][3], b.selections["full"][3])
    )


def test_t_sync_fuses_trains_and_reprunes_so_the_proxy_inherits_trained_weights(data):
    X, y, X_test, y_test = data
    learner = PruneFuseActiveLearner(cnn(epochs=2), sync_every=2, random_state=0).fit(
        X[:40], y[:40]
    )
    init_before = {k: v.clone() for k, v in learner.proxy_init_module_.state_dict().items()}
    learner.teach(X[40:60], y[40:60])
    assert "sync" not in learner.history_[-1]
    assert state_equal(learner.proxy_init_module_.state_dict(), init_before)
    learner.teach(X[60:80], y[60:80])  # round 2: sync
    sync = learner.history_[-1]["sync"]
    assert sync["epochs"] == 2 and sync["seconds"] > 0
    # the new proxy init is the pruned *trained* full network: its kept block, exactly
    full = learner.full_init_module_.state_dict()
    for name, tensor in learner.proxy_init_module_.state_dict().items():
        assert torch.equal(learner.kept_indices_[name].gather(full[name]), tensor)
    assert not state_equal(learner.proxy_init_module_.state_dict(), init_before)
    # zero fusion of an untrained-since proxy into the synced network is still exact
    clf = learner.fuse(train=False)
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)


def test_simulate_counts_the_sync_training_as_selection_cost(data):
    X, y, X_test, y_test = data
    results = simulate(
        cnn(),
        X,
        y,
        X_test,
        y_test,
        methods=[
            "prunefuse",
            {"method": "prunefuse", "sync_every": 1, "fusion_init": "keep", "name": "pf-sync"},
        ],
        initial_size=30,
        batch_sizes=[10, 10],
        seeds=[0],
        progress=False,
    )
    by = {(r["method"], r["round"]): r for r in results}
    assert by["pf-sync", 0]["selection_flops"] == pytest.approx(
        by["prunefuse", 0]["selection_flops"]
    )
    # rounds 1 and 2 train the full network once more inside teach
    assert by["pf-sync", 2]["selection_flops"] > 3 * by["prunefuse", 2]["selection_flops"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(methods=["proxy"]), InvalidParameterError, "needs a small selector network"),
        (dict(methods=["best"]), InvalidParameterError, "Unknown method 'best'"),
        (dict(methods=["full", {"method": "full"}]), InvalidParameterError, "unique"),
        (dict(initial_size=495), InvalidParameterError, "between 1 and the pool size"),
        (dict(batch_sizes=[10, 0]), InvalidParameterError, "positive integers"),
        (dict(batch_sizes=[10], n_rounds=3), InvalidParameterError, "n_rounds=3"),
        (dict(query_strategy="oracle"), ValueError, "query_strategy must be one of"),
    ],
    ids=[
        "proxy-without-net",
        "unknown-method",
        "duplicate-name",
        "too-many-labels",
        "zero-batch",
        "rounds-mismatch",
        "unknown-strategy",
    ],
)
def test_bad_simulations_fail_before_training(data, kwargs, error, match):
    X, y, X_test, y_test = data
    params = dict(methods=["random"], initial_size=30, batch_sizes=[10], progress=False)
    params.update(kwargs)
    with pytest.raises(error, match=match):
        simulate(cnn(), X, y, X_test, y_test, **params)


def test_evaluating_the_last_round_only_gives_the_same_session_and_final_model(data, results):
    X, y, X_test, y_test = data
    methods = ["random", "full", "proxy", "prunefuse"]
    last = simulate(
        cnn(),
        X,
        y,
        X_test,
        y_test,
        methods=methods,
        proxy_estimator=cnn(width=4, hidden=8),
        initial_size=40,
        batch_sizes=[20, 30],
        seeds=[0, 1],
        progress=False,
        evaluate="last_round",
    )
    assert last.config["evaluate"] == "last_round"
    for method in methods:
        for seed in (0, 1):
            run = [r for r in last if r["method"] == method and r["seed"] == seed]
            every = [r for r in results if r["method"] == method and r["seed"] == seed]
            # the same labels are chosen: building the intermediate final models changes nothing
            for a, b in zip(last.selections[method][seed], results.selections[method][seed]):
                np.testing.assert_array_equal(a, b)
            assert [math.isnan(r["accuracy"]) for r in run] == [True, True, False]
            assert [r["training_seconds"] == 0.0 for r in run[:2]] == [True, True]
            assert run[-1]["accuracy"] == pytest.approx(every[-1]["accuracy"])
            if (
                method != "full"
            ):  # full-model AL's final model is its selector, trained in the round
                assert run[-1]["training_seconds"] > 0


def test_evaluate_must_be_a_known_schedule(data):
    X, y, X_test, y_test = data
    with pytest.raises(InvalidParameterError, match="evaluate must be one of"):
        simulate(
            cnn(),
            X,
            y,
            X_test,
            y_test,
            methods=["random"],
            initial_size=30,
            batch_sizes=[10],
            progress=False,
            evaluate="never",
        )


def test_method_specs_parse_names_and_dicts():
    assert MethodSpec.parse("prunefuse-p0.7") == MethodSpec(
        "prunefuse-p0.7", "prunefuse", {"pruning_ratio": 0.7}
    )
    spec = MethodSpec.parse(
        {"method": "prunefuse", "pruning_ratio": 0.5, "distillation_weight": 0.3}
    )
    assert spec.name == "prunefuse-p0.5" and spec.params == {
        "pruning_ratio": 0.5,
        "distillation_weight": 0.3,
    }


def test_stopping_criteria_end_a_run_early_and_say_why(data):
    from prunefuse_sk.stopping import AnyOf, LabelBudget, StablePredictions

    X, y, X_test, y_test = data
    budget = LabelBudget(50)
    results = simulate(
        cnn(),
        X,
        y,
        X_test,
        y_test,
        methods=["random", "prunefuse"],
        initial_size=30,
        batch_sizes=[10, 10, 10],
        seeds=[0, 1],
        stopping=AnyOf(budget, StablePredictions(X_test[:50], window=10)),
        progress=False,
    )
    for method in ("random", "prunefuse"):
        for seed in (0, 1):
            run = [r for r in results if r["method"] == method and r["seed"] == seed]
            assert [r["n_labels"] for r in run] == [30, 40, 50]
            assert [r["stop_reason"] is None for r in run] == [True, True, False]
            assert "label budget" in run[-1]["stop_reason"]
            assert len(results.selections[method][seed]) == 3  # nothing selected after the stop
    assert budget.reason is None  # every run used its own copy of the criterion


def test_checking_a_stopping_criterion_does_not_change_what_is_selected(data):
    from prunefuse_sk.stopping import LabelBudget

    X, y, X_test, y_test = data
    common = dict(
        methods=["random", "full"],
        initial_size=30,
        batch_sizes=[10, 10],
        seeds=[0],
        max_candidates=100,
        progress=False,
    )
    plain = simulate(cnn(), X, y, X_test, y_test, **common)
    checked = simulate(cnn(), X, y, X_test, y_test, stopping=LabelBudget(10_000), **common)
    for method in ("random", "full"):
        for a, b in zip(plain.selections[method][0], checked.selections[method][0]):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ n_jobs: cells as joblib tasks
TIMING_FIELDS = {
    "selection_seconds",
    "selector_train_seconds",
    "scoring_seconds",
    "training_seconds",
}


@contextlib.contextmanager
def torch_threads(n):
    # CPU kernels reduce in a thread-count-dependent order, and a last-digit difference can flip
    # which sample is most uncertain: compare runs whose cells train with the same number of threads
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def grid(data, **kwargs):
    """A small (seed, method) grid: 2 seeds x 3 methods, planned for 3 rounds; every cell stops
    after 2."""
    from prunefuse_sk.stopping import LabelBudget

    X, y, X_test, y_test = data
    params = dict(
        methods=["random", "full", {"method": "prunefuse", "name": "pf-stop"}],
        initial_size=30,
        batch_sizes=[10, 10],
        seeds=[0, 1],
        stopping=LabelBudget(40),
        progress=False,
    )
    params.update(kwargs)
    return simulate(cnn(), X, y, X_test, y_test, **params)


def assert_same_but_timings(parallel, serial, seeds=(0, 1)):
    """The records and selections of ``serial``'s ``seeds`` (cells are independent) equal
    ``parallel``'s but for timings."""
    expected = [r for r in serial if r["seed"] in seeds]
    assert (
        len(parallel) == len(expected) == len(seeds) * 3 * 2
    )  # every cell stops after round 1 (LabelBudget(40))
    for a, b in zip(parallel, expected):
        assert set(a) == set(b) == set(RECORD_FIELDS)
        for key in set(RECORD_FIELDS) - TIMING_FIELDS:
            if isinstance(a[key], float) and math.isnan(a[key]):
                assert math.isnan(b[key]), key
            else:
                assert a[key] == b[key], (key, a, b)
    assert parallel.selections.keys() == serial.selections.keys()
    for method, runs in serial.selections.items():
        assert sorted(parallel.selections[method]) == sorted(seeds)
        for seed in seeds:
            batches = runs[seed]
            assert len(parallel.selections[method][seed]) == len(batches)
            for x, z in zip(parallel.selections[method][seed], batches):
                np.testing.assert_array_equal(x, z)


@pytest.fixture(scope="module")
def serial_grid(data):
    with torch_threads(1):  # as in the workers below
        return grid(data)


def test_cells_on_loky_workers_give_the_serial_records_and_call_back_each_once(data, serial_grid):
    import joblib

    received = []
    # loky starts its workers with OMP_NUM_THREADS/MKL_NUM_THREADS=1, which torch reads;
    # simulate's own limit, max(1, cpu_count // 2), would give more threads than the serial
    # reference on a larger machine
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        parallel = grid(data, n_jobs=2, callback=received.append, progress=True)
    assert_same_but_timings(parallel, serial_grid)
    assert [id(r) for r in received] == [
        id(r) for r in parallel.records
    ]  # each record once, in order
    assert parallel.config["n_jobs"] == 2 and serial_grid.config["n_jobs"] is None
    assert all(r[key] >= 0 for r in parallel for key in TIMING_FIELDS)


def test_cells_sharing_a_process_take_turns_and_stay_reproducible(data, serial_grid):
    import joblib

    with joblib.parallel_backend("threading"), torch_threads(1):
        parallel = grid(data, n_jobs=2)
    assert_same_but_timings(parallel, serial_grid)


def test_cells_on_a_dask_cluster_give_the_serial_records(data, serial_grid, dask_env):
    import joblib

    distributed = pytest.importorskip("dask.distributed")
    # the nanny starts its workers with OMP_NUM_THREADS=MKL_NUM_THREADS=1: one torch thread per cell
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            on_dask = grid(data, n_jobs=2, seeds=[1])  # 3 cells: seed 1 of the serial grid
    assert_same_but_timings(on_dask, serial_grid, seeds=(1,))


def test_a_worker_process_limits_torch_threads_for_the_cell_only():
    from prunefuse_sk.simulation_cells import process_identity, torch_threads_for_worker

    before = torch.get_num_threads()
    with torch_threads_for_worker((-1, "another process"), 10_000):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads_for_worker(process_identity(), 10_000):  # the caller's process: left alone
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True, False, np.bool_(True)])
def test_bad_n_jobs_is_refused_before_training(data, n_jobs):
    X, y, X_test, y_test = data
    with pytest.raises(
        InvalidParameterError,
        match=r"n_jobs must be None, a positive int .*; got .*Pass n_jobs=None",
    ):
        simulate(
            cnn(),
            X,
            y,
            X_test,
            y_test,
            methods=["random"],
            initial_size=30,
            batch_sizes=[10],
            progress=False,
            n_jobs=n_jobs,
        )


@pytest.mark.parametrize(
    "kwargs, named",
    [
        (dict(methods=["random", "full", "prunefuse-p2"]), "'prunefuse-p2'"),
        (dict(methods=["random", {"method": "prunefuse", "pruning_ratio": 1.5}]), "'method'"),
        (dict(methods=[{"method": "prunefuse", "pruning_ratio": 0, "name": "pf0"}]), "'pf0'"),
        (dict(methods=[MethodSpec("mine", "prunefuse", {"pruning_ratio": -0.1})]), "'mine'"),
        (dict(methods=["prunefuse"], learner_params={"pruning_ratio": 1.0}), "'prunefuse'"),
        (dict(methods=[{"method": "prunefuse", "pruning_ratio": "0.5", "name": "s"}]), "'s'"),
    ],
    ids=["name", "dict", "zero", "spec", "learner-params", "string"],
)
def test_a_pruning_ratio_outside_0_1_fails_before_any_training(data, monkeypatch, kwargs, named):
    from prunefuse_sk import simulation

    def no_run(*args, **kwargs):
        raise AssertionError("a (seed, method) cell started")

    monkeypatch.setattr(simulation._Run, "__init__", no_run)
    X, y, X_test, y_test = data
    params = dict(initial_size=30, batch_sizes=[10], progress=False, **kwargs)
    with pytest.raises(InvalidParameterError) as info:
        simulate(cnn(), X, y, X_test, y_test, **params)
    message = str(info.value)
    assert named in message and "pruning_ratio must be in the open interval (0, 1)" in message
