"""Run the distributed tests many times in a row beside a CPU load, and count the passes.

Issue 26: the tests on a dask ``LocalCluster`` (worker loss, a closed scheduler, grid searches
and simulation cells on dask) must pass 20 times in a row while other processes keep the
cores busy. This script starts ``--burners`` processes that spin on the CPU for the whole
run, runs the distributed tests ``--runs`` times (each run a fresh ``pytest`` process), and
prints one line per run and a summary table: passes, failures, and the seconds per run
(median, min and max). It stops at the first failure unless ``--keep-going``.

    python benchmarks/stress_cluster_tests.py                 # 20 runs beside 2 burners
    python benchmarks/stress_cluster_tests.py --runs 3 --burners 1
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

TESTS = [
    "tests/test_cluster_faults.py",
    "tests/test_scheduler_loss.py",
    "tests/test_distributed.py",
    "tests/test_model_selection.py::test_dask_backend_finds_the_same_best_params_as_loky",
    "tests/test_simulation.py::test_cells_on_a_dask_cluster_give_the_serial_records",
    "tests/test_cli.py::test_simulate_command_runs_cells_on_a_dask_scheduler",
]


def burn(stop):
    """Keep one core busy until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def run_once(index, runs, log_dir):
    """One pytest run of :data:`TESTS`: (passed, seconds, last summary line)."""
    started = time.monotonic()
    log = os.path.join(log_dir, f"run_{index:02d}.log")
    with open(log, "w") as out:
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seconds = time.monotonic() - started
    with open(log) as out:
        lines = [line.strip() for line in out if line.strip()]
    summary = lines[-1] if lines else "(no output)"
    verdict = "PASS" if code == 0 else "FAIL"
    print(f"run {index + 1:2d}/{runs}: {verdict} {seconds:6.1f} s  {summary}", flush=True)
    return code == 0, seconds, log


def main(argv=None):
    """Parse the options, run the tests beside the burners and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="pytest runs (default 20)")
    parser.add_argument("--burners", type=int, default=2, help="CPU-bound processes (default 2)")
    parser.add_argument("--keep-going", action="store_true", help="do not stop at a failure")
    parser.add_argument("--log-dir", default="stress_logs", help="one pytest log per run")
    args = parser.parse_args(argv)
    os.makedirs(args.log_dir, exist_ok=True)
    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(stop,)) for _ in range(args.burners)]
    for process in burners:
        process.start()
    print(f"{args.burners} burner processes on {os.cpu_count()} cores; load {os.getloadavg()}")
    outcomes = []
    try:
        for index in range(args.runs):
            outcomes.append(run_once(index, args.runs, args.log_dir))
            if not outcomes[-1][0] and not args.keep_going:
                print(f"stopped at the first failure: see {outcomes[-1][2]}")
                break
    finally:
        stop.set()
        for process in burners:
            process.join(10)
    seconds = [s for _, s, _ in outcomes]
    passed = sum(ok for ok, _, _ in outcomes)
    print()
    print("| runs | passed | failed | in a row from the start | s per run, median [min-max] |")
    print("|---|---|---|---|---|")
    in_a_row = next((i for i, (ok, _, _) in enumerate(outcomes) if not ok), len(outcomes))
    print(
        f"| {len(outcomes)} | {passed} | {len(outcomes) - passed} | {in_a_row} | "
        f"{statistics.median(seconds):.1f} [{min(seconds):.1f}-{max(seconds):.1f}] |"
    )
    return 0 if passed == len(outcomes) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
