"""The labelled set and its provenance, replaced as a whole so it is never half-updated.

Labels cost an expert's time: :class:`LabelledSet` keeps every taught sample with the
round it was added in and the query score it had when it was chosen. It is immutable:
:meth:`LabelledSet.extend` returns a new set, so the learner swaps one attribute and a
failure (even ``KeyboardInterrupt``) can never leave ``X`` and ``y`` of different lengths.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["LabelledSet", "QueryRecord"]


@dataclass(frozen=True)
class LabelledSet:
    """Labelled samples with the round each was added in and its query score.

    Parameters
    ----------
    X : ndarray of shape (n_labelled, ...), float32
        The samples.
    y : ndarray of shape (n_labelled,)
        Their labels, as the user gave them.
    y_encoded : ndarray of shape (n_labelled,), int64
        The output unit of every label.
    rounds : ndarray of shape (n_labelled,), int64
        The labelling round that added each sample (0 is the seed set).
    scores : ndarray of shape (n_labelled,), float64
        The strategy's score of each sample when it was queried; NaN for the
        seed set and for samples that did not come from the last query.
    """

    X: np.ndarray
    y: np.ndarray
    y_encoded: np.ndarray
    rounds: np.ndarray
    scores: np.ndarray

    @classmethod
    def start(cls, X, y, y_encoded):
        """The seed set: round 0, no query scores.

        Parameters
        ----------
        X : ndarray of shape (n_labelled, ...)
            The samples (copied: the caller's array may change later).
        y : ndarray of shape (n_labelled,)
            Their labels.
        y_encoded : ndarray of shape (n_labelled,), int64
            The output unit of every label.

        Returns
        -------
        labelled : LabelledSet
        """
        n = len(X)
        # copies: the caller's arrays may change later; the labels must not
        return cls(
            np.array(X),
            np.array(y),
            np.array(y_encoded),
            np.zeros(n, dtype=np.int64),
            np.full(n, np.nan),
        )

    def __len__(self):
        return len(self.X)

    def as_arrays(self):
        """The set as named arrays, for checkpoints.

        Returns
        -------
        arrays : dict of str to ndarray
            ``X``, ``y``, ``y_encoded``, ``rounds`` and ``scores``.
        """
        return {
            "X": self.X,
            "y": self.y,
            "y_encoded": self.y_encoded,
            "rounds": self.rounds,
            "scores": self.scores,
        }

    @classmethod
    def from_arrays(cls, arrays):
        """The set :meth:`as_arrays` described (extra keys are ignored).

        Parameters
        ----------
        arrays : dict of str to ndarray
            What :meth:`as_arrays` returned (a checkpoint's arrays).

        Returns
        -------
        labelled : LabelledSet
        """
        return cls(
            arrays["X"], arrays["y"], arrays["y_encoded"], arrays["rounds"], arrays["scores"]
        )

    @property
    def last_round(self):
        """int: The highest round number so far."""
        return int(self.rounds.max()) if len(self.rounds) else 0

    def extend(self, X, y, y_encoded, scores):
        """Return a new set with ``(X, y)`` appended as the next round.

        Parameters
        ----------
        X : ndarray of shape (n_new, ...), float32
        y : ndarray of shape (n_new,)
        y_encoded : ndarray of shape (n_new,), int64
        scores : ndarray of shape (n_new,), float64
            Query scores (NaN where unknown).

        Returns
        -------
        labelled : LabelledSet
        """
        rounds = np.full(len(X), self.last_round + 1, dtype=np.int64)
        return LabelledSet(
            np.concatenate([self.X, X]),
            np.concatenate([self.y, y]),
            np.concatenate([self.y_encoded, y_encoded]),
            np.concatenate([self.rounds, rounds]),
            np.concatenate([self.scores, np.asarray(scores, dtype=np.float64)]),
        )


class QueryRecord:
    """The rows the last ``query`` returned, with their scores, looked up by content.

    ``teach`` receives rows, not indices (modAL's convention), so the score a
    taught row had is found by its bytes: exact for the rows ``query``
    returned, NaN for anything else.

    Parameters
    ----------
    rows : ndarray of shape (n, ...)
        The returned samples, as float32.
    scores : ndarray of shape (n,)
        Their scores.

    Attributes
    ----------
    rows : ndarray of shape (n, ...), float32
    scores : ndarray of shape (n,), float64
    """

    def __init__(self, rows, scores):
        self.rows = np.ascontiguousarray(rows, dtype=np.float32)
        self.scores = np.asarray(scores, dtype=np.float64)
        self._scores = (
            None  # built by the first scores_of: a query that is not taught costs nothing here
        )

    def _lookup(self):
        if self._scores is None:
            self._scores = {}
            for row, score in zip(self.rows.reshape(len(self.rows), -1), self.scores):
                self._scores.setdefault(row.tobytes(), float(score))
        return self._scores

    def as_arrays(self):
        """The record as named arrays, for checkpoints.

        Returns
        -------
        arrays : dict of str to ndarray
            ``last_query_rows`` and ``last_query_scores``.
        """
        return {"last_query_rows": self.rows, "last_query_scores": self.scores}

    @classmethod
    def from_arrays(cls, arrays):
        """The record :meth:`as_arrays` described, or None when ``arrays`` holds none.

        Parameters
        ----------
        arrays : dict of str to ndarray
            A checkpoint's arrays.

        Returns
        -------
        record : QueryRecord or None
        """
        if "last_query_rows" not in arrays:
            return None
        return cls(arrays["last_query_rows"], arrays["last_query_scores"])

    def scores_of(self, X):
        """Scores of the rows of ``X`` (float32), NaN for rows not queried last.

        Parameters
        ----------
        X : ndarray of shape (n, ...), float32

        Returns
        -------
        scores : ndarray of shape (n,), float64
        """
        flat = np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), -1)
        lookup = self._lookup()
        return np.array([lookup.get(row.tobytes(), np.nan) for row in flat], dtype=np.float64)
