"""Property-based test: random sequences of valid fit/query/teach calls keep the learner's
books straight.

A hypothesis state machine drives one learner over a fixed set of digits rows. The test
keeps its own bookkeeping -- which original rows are labelled, in which order and in
which round, and which are still in the pool -- because the learner stores rows, not
indices, and ``query`` returns indices into whatever pool it is given. After every step
the learner's labelled set, provenance and classes must agree with that bookkeeping.
"""

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from prunefuse_sk import PruneFuseActiveLearner
from prunefuse_sk.datasets import load_digits_images
from prunefuse_sk.networks import MLP

from conftest import make_net

N_ROWS = 120
_images, _, _labels, _ = load_digits_images(random_state=0)
X_ALL = np.ascontiguousarray(_images[:N_ROWS].reshape(N_ROWS, -1))
Y_ALL = _labels[:N_ROWS]
STRATEGIES = ["least_confidence", "margin", "entropy", "random", "kcenter"]


def oracle(rows):
    """The labels of original rows (the expert the learner asks)."""
    return Y_ALL[rows]


class ActiveLearningLoop(RuleBasedStateMachine):
    """Fit, then any mix of query, teach, teach-unqueried rows, retrain and fit again (start
    over)."""

    def __init__(self):
        super().__init__()
        self.learner = None

    # ------------------------------------------------------------ bookkeeping
    def _start(self, seed_rows, pool):
        self.labelled = [int(r) for r in seed_rows]  # original rows, in the learner's order
        self.rounds = [0] * len(seed_rows)  # expected labelling_round_
        self.queried_then_taught = []  # rows taught straight from a query: they have a score
        self.pool = np.asarray(
            pool
        )  # original rows not labelled yet, in the (shuffled) order passed to query
        self.last_query = None  # original rows the last query returned, not taught yet
        self.n_teach = 0  # teach calls with data since the latest fit

    def _add(self, rows):
        self.n_teach += 1
        self.labelled.extend(int(r) for r in rows)
        self.rounds.extend([self.n_teach] * len(rows))
        self.pool = self.pool[~np.isin(self.pool, rows)]  # shrinks in place: later indices shift
        self.last_query = None

    # ------------------------------------------------------------------ rules
    FIT_ARGUMENTS = dict(
        data=st.data(),
        strategy=st.sampled_from(STRATEGIES),
        proxy_retrain=st.sampled_from(["reinit", "warm"]),
        n_seed=st.integers(12, 30),
        random_state=st.integers(0, 2**16),
    )

    @initialize(**FIT_ARGUMENTS)
    def fit(self, data, strategy, proxy_retrain, n_seed, random_state):
        order = np.asarray(data.draw(st.permutations(range(N_ROWS)), label="order"))
        rows, pool = np.sort(order[:n_seed]), order[n_seed:]
        net = make_net(
            MLP, module__n_features=64, module__n_classes=10, module__hidden=(16,), max_epochs=1
        )
        learner = PruneFuseActiveLearner(
            net, query_strategy=strategy, proxy_retrain=proxy_retrain, random_state=random_state
        )
        assert learner.fit(X_ALL[rows], oracle(rows)) is learner
        if self.learner is None:
            self.classes = learner.classes_.copy()
        self.learner = learner
        self._start(rows, pool)

    @precondition(lambda self: self.n_teach >= 2)  # starting over is valid, but not too often
    @rule(**FIT_ARGUMENTS)
    def fit_again(self, data, strategy, proxy_retrain, n_seed, random_state):
        self.fit(data, strategy, proxy_retrain, n_seed, random_state)

    @precondition(lambda self: len(self.pool) > 0)
    @rule(
        n=st.integers(1, 8),
        use_max_candidates=st.booleans(),
        n_candidates=st.integers(10, 60),
        strategy=st.sampled_from(STRATEGIES),
    )
    def query(self, n, use_max_candidates, n_candidates, strategy):
        # the strategy may change between rounds (query reads the current one): every query draws
        # one, so that each strategy is exercised in a run of 12 short examples
        self.learner.set_params(query_strategy=strategy)
        n = min(n, len(self.pool))
        max_candidates = max(n_candidates, n) if use_max_candidates else None
        X_pool = X_ALL[self.pool]
        indices, X_selected = self.learner.query(X_pool, n=n, max_candidates=max_candidates)
        assert indices.shape == (n,) and indices.dtype.kind in "iu"
        assert len(np.unique(indices)) == n, "query returned a duplicate index"
        assert indices.min() >= 0 and indices.max() < len(X_pool), (
            "query returned an index outside the pool"
        )
        np.testing.assert_array_equal(X_selected, X_pool[indices])
        self.last_query = self.pool[indices]

    @precondition(lambda self: self.last_query is not None)
    @rule(only_new=st.booleans())
    def teach_the_queried_rows(self, only_new):
        rows = self.last_query
        assert self.learner.teach(X_ALL[rows], oracle(rows), only_new=only_new) is self.learner
        self.queried_then_taught.extend(int(r) for r in rows)
        self._add(rows)

    @precondition(lambda self: len(self.pool) > 0 and self.last_query is None)
    @rule(data=st.data(), only_new=st.booleans())
    def teach_rows_nobody_queried(self, data, only_new):
        unlabelled = st.sampled_from(self.pool.tolist())
        rows = np.asarray(
            data.draw(st.lists(unlabelled, min_size=1, max_size=5, unique=True), label="rows")
        )
        assert self.learner.teach(X_ALL[rows], oracle(rows), only_new=only_new) is self.learner
        self._add(rows)

    @precondition(lambda self: self.n_teach >= 1)  # after a teach, so that queries stay frequent
    @rule()
    def retrain_without_new_labels(self):
        before = len(self.learner.history_)
        assert self.learner.teach() is self.learner
        assert len(self.learner.history_) == before + 1

    # ------------------------------------------------------------- invariants
    @invariant()
    def labelled_and_pool_partition_the_data(self):
        labelled = np.asarray(self.labelled)
        assert len(np.unique(labelled)) == len(labelled), "a row was labelled twice"
        assert len(np.intersect1d(labelled, self.pool)) == 0, "a labelled row is still in the pool"
        np.testing.assert_array_equal(np.union1d(labelled, self.pool), np.arange(N_ROWS))

    @invariant()
    def the_learner_holds_exactly_the_labelled_rows(self):
        learner = self.learner
        n = len(self.labelled)
        assert len(learner.X_training) == len(learner.y_training) == n
        assert len(learner.labelling_round_) == len(learner.query_scores_) == n
        np.testing.assert_array_equal(learner.X_training, X_ALL[self.labelled])
        np.testing.assert_array_equal(learner.y_training, Y_ALL[self.labelled])

    @invariant()
    def provenance_matches_the_calls(self):
        rounds = np.asarray(self.learner.labelling_round_)
        assert np.all(np.diff(rounds) >= 0), "labelling_round_ decreased"
        np.testing.assert_array_equal(rounds, self.rounds)
        assert (
            rounds.max() == self.n_teach
        )  # the latest rows carry the number of teach calls since fit
        scores = np.asarray(self.learner.query_scores_)
        assert np.all(np.isnan(scores[rounds == 0])), "a seed row has a query score"
        position = {row: i for i, row in enumerate(self.labelled)}
        taught_from_query = [position[row] for row in self.queried_then_taught]
        assert np.all(np.isfinite(scores[taught_from_query])), (
            "a queried-then-taught row lost its score"
        )

    @invariant()
    def classes_never_change(self):
        np.testing.assert_array_equal(self.learner.classes_, self.classes)
        np.testing.assert_array_equal(self.classes, np.arange(10))


ActiveLearningLoop.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

TestActiveLearningLoop = ActiveLearningLoop.TestCase
