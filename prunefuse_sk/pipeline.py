"""Active learning through a scikit-learn ``Pipeline`` whose last step is the learner.

A ``Pipeline`` forwards ``fit``, ``predict`` and ``score`` but not ``query`` or ``teach``.
These two functions run the pool (or the new samples) through the fitted preceding steps
and call the learner; the indices they return refer to the rows of the raw pool, since
transformers map row ``i`` to row ``i``.
"""

from .pools import take_rows

__all__ = ["pipeline_query", "pipeline_teach"]


def _split(pipeline):
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"Expected a fitted sklearn Pipeline; got {type(pipeline).__name__}.")
    learner = pipeline[-1]
    if not (hasattr(learner, "query") and hasattr(learner, "teach")):
        raise TypeError(
            f"The pipeline's last step ({type(learner).__name__}) has no query/teach: put a "
            "PruneFuseActiveLearner (or another active learner) last."
        )
    return (pipeline[:-1] if len(pipeline) > 1 else None), learner


def pipeline_query(pipeline, X_pool, n=1, **query_kwargs):
    """Query the learner at the end of a fitted pipeline, with indices into the raw pool.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; its last step is the active learner.
    X_pool : array-like of shape (n_pool, n_features)
        Raw, untransformed pool.
    n : int, default=1
        How many samples to choose.
    **query_kwargs
        Passed to the learner's ``query`` (``return_scores``, ``max_candidates``, ...).

    Returns
    -------
    indices : ndarray of shape (n,)
        Row indices into ``X_pool``.
    X_selected : array-like
        The chosen *raw* rows ``X_pool[indices]``.
    scores : ndarray of shape (n,)
        Only with ``return_scores=True``.
    """
    preprocess, learner = _split(pipeline)
    transformed = preprocess.transform(X_pool) if preprocess is not None else X_pool
    result = learner.query(transformed, n, **query_kwargs)
    indices = result[0]
    return (indices, take_rows(X_pool, indices), *result[2:])


def pipeline_teach(pipeline, X, y, **teach_kwargs):
    """Teach the learner at the end of a fitted pipeline with raw samples.

    The preceding steps transform ``X`` as fitted; they are not refitted.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; its last step is the active learner.
    X : array-like of shape (n_new, n_features)
        Raw newly labelled samples.
    y : array-like of shape (n_new,)
        Their labels.
    **teach_kwargs
        Passed to the learner's ``teach`` (e.g. ``only_new=True``).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The same pipeline.
    """
    preprocess, learner = _split(pipeline)
    learner.teach(preprocess.transform(X) if preprocess is not None else X, y, **teach_kwargs)
    return pipeline
