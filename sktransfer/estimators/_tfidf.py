"""The classical text baseline: TF-IDF of words and characters + a linear classifier, as a scikit-learn Pipeline."""

from __future__ import annotations

from numbers import Real

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

__all__ = ["TFIDF_CLASSIFIERS", "make_tfidf_classifier"]

#: The classifiers :func:`make_tfidf_classifier` puts after TF-IDF, with their default ``C``.
TFIDF_CLASSIFIERS = {"logistic": 10.0, "svm": 1.0}


def make_tfidf_classifier(classifier="logistic", *, C=None, class_weight=None, random_state=None):
    """TF-IDF of word 1-2 grams and character 2-5 grams, then a linear classifier: the text baseline.

    A plain :class:`~sklearn.pipeline.Pipeline`, unfitted, that takes what
    the text backbones take (a list, 1-D array or pandas Series of ``str``):
    ``"tfidf"``, a :class:`~sklearn.pipeline.FeatureUnion` of two
    :class:`~sklearn.feature_extraction.text.TfidfVectorizer` (``"words"``:
    word unigrams and bigrams; ``"chars"``: ``char_wb`` 2- to 5-grams, which
    read through typos and inflections; both lowercased, with sublinear term
    frequencies), then ``"classifier"``. Every step's parameters reach
    :class:`~sklearn.model_selection.GridSearchCV` as usual, e.g.
    ``classifier__C`` or ``tfidf__words__min_df``.

    Parameters
    ----------
    classifier : {"logistic", "svm"}, default="logistic"
        :class:`~sklearn.linear_model.LogisticRegression` (with
        ``predict_proba``) or :class:`~sklearn.svm.LinearSVC` (often a little
        faster to fit; ``decision_function`` only).
    C : float or None, default=None
        Inverse regularisation strength of the classifier. None: 10.0 for
        ``"logistic"``, 1.0 for ``"svm"`` (the better of 0.1 to 100 on the
        whole ``rotten-tomatoes`` training pool; with few labels the choice
        matters little).
    class_weight : dict, "balanced" or None, default=None
        Passed to the classifier.
    random_state : int, RandomState instance or None, default=None
        Passed to the classifier (``LinearSVC``'s dual coordinate descent
        shuffles; ``LogisticRegression``'s default solver is deterministic).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"tfidf"`` and ``"classifier"``, unfitted.

    Raises
    ------
    ValueError
        When ``classifier`` is not one of :data:`TFIDF_CLASSIFIERS` or ``C``
        is not a positive number.

    See Also
    --------
    sktransfer.PretrainedFeatureExtractor : frozen language-model embeddings of the same texts.
    sktransfer.FineTunedClassifier : a language model fine-tuned on them.

    Examples
    --------
    >>> from sktransfer import make_tfidf_classifier
    >>> texts = ["a gripping, moving film", "dull and far too long", "moving and funny", "a dull mess",
    ...          "funny, gripping fun", "far too dull"]
    >>> labels = ["fresh", "rotten", "fresh", "rotten", "fresh", "rotten"]
    >>> model = make_tfidf_classifier().fit(texts, labels)
    >>> model.predict(["a funny and moving story", "so dull"]).tolist()
    ['fresh', 'rotten']
    >>> [name for name, _ in model.steps], model.get_params()["classifier__C"]
    (['tfidf', 'classifier'], 10.0)
    """
    if classifier not in TFIDF_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {', '.join(map(repr, TFIDF_CLASSIFIERS))}; got {classifier!r}. "
                         "Use 'logistic' (LogisticRegression, with predict_proba) or 'svm' (LinearSVC).")
    if C is None:
        C = TFIDF_CLASSIFIERS[classifier]
    if not isinstance(C, Real) or isinstance(C, bool) or not C > 0:
        raise ValueError(f"C must be a positive number (the inverse regularisation strength), or None for the "
                         f"classifier's default; got {C!r}. Try C=1.0 or C=10.0.")
    tfidf = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
    ])
    if classifier == "logistic":
        model = LogisticRegression(C=float(C), class_weight=class_weight, max_iter=1000, random_state=random_state)
    else:
        model = LinearSVC(C=float(C), class_weight=class_weight, random_state=random_state)
    return Pipeline([("tfidf", tfidf), ("classifier", model)])
