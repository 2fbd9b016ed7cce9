"""scikit-learn conformance: every estimator check, Pipelines, model selection, pickling."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from prunefuse_sk import PruneFuseActiveLearner


@parametrize_with_checks([PruneFuseActiveLearner(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
