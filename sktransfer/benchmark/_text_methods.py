"""The benchmark's methods for texts, and the checks that keep image methods off texts and text methods off images.

A text dataset (``Dataset.modality == "text"``, see :mod:`.text`) has its own
registry, :data:`TEXT_METHOD_CLASSES`:

- ``tfidf``: :func:`~sktransfer.make_tfidf_classifier` (word and character
  TF-IDF + logistic regression), fitted on each split's training texts (the
  vocabulary and IDF included), ``C`` tuned by inner cross-validation;
- ``features``: frozen language-model embeddings + standardised logistic
  regression, ``C`` tuned (:class:`TextFeatures`);
- ``finetune`` and ``probe``: the image methods' classes themselves, as
  :class:`~sktransfer.FineTunedClassifier` takes texts with a text backbone.

The default backbone of a text run is :data:`TEXT_BACKBONE`.
"""

from __future__ import annotations

import time

from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ..backbones import backbone_modality
from ..estimators import PretrainedFeatureExtractor, make_tfidf_classifier
from ._catalog import METHOD_CLASSES
from ._methods import Features, FineTune, Method, Probe, _inner_splits
from ._setup import check_arguments
from .evaluation import confusion, scores

__all__ = ["TEXT_BACKBONE", "TEXT_METHODS", "TEXT_METHOD_CLASSES", "TextFeatures", "TfIdf", "check_image_run",
           "check_text_arguments", "method_class"]

#: The backbone of ``features``, ``finetune`` and ``probe`` on texts unless another is given.
TEXT_BACKBONE = "all-MiniLM-L6-v2"
#: Methods that use no backbone: a backbone of the other modality does not matter to them.
_NO_BACKBONE = ("pixels", "hog", "lbp", "tfidf")


class TfIdf(Method):
    """``tfidf``: TF-IDF of words and characters + logistic regression, fitted per split; ``C`` is tuned.

    The whole pipeline (vocabulary and IDF too) is fitted on the split's
    training texts only, as a user would fit it: so its fit time is all in
    the row, and no test text's words weigh in.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.benchmark.text import text_dataset
    >>> from sktransfer.benchmark._splits import Split
    >>> from sktransfer.benchmark._text_methods import TfIdf
    >>> texts = ["great fun", "a dull film", "great and moving", "dull, dull", "fun and moving", "so dull"] * 2
    >>> ds = text_dataset("tiny", texts, ["pos", "neg"] * 6, "12 texts")
    >>> row = TfIdf().run(ds, Split(0, 4, train=np.arange(8), test=np.arange(8, 12), pool=np.arange(0)))
    >>> row["accuracy"], row["tuned"], row["chosen"]
    (1.0, True, 'C=1')
    """

    name = "tfidf"
    #: The classifier's ``C`` the inner search chooses among, and the one used without a search.
    grid = {"classifier__C": [1.0, 10.0, 100.0]}
    default = {"classifier__C": 10.0}

    def run(self, ds, split):
        y_train, X_train = ds.y[split.train], ds.take(split.train)
        n_splits = _inner_splits(y_train, self.settings.cv)
        model, params, inner_score = make_tfidf_classifier(), self.default, float("nan")
        t0 = time.perf_counter()
        if n_splits >= 2:
            inner = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=split.seed)
            search = GridSearchCV(model, self.grid, cv=inner, n_jobs=self.settings.n_jobs).fit(X_train, y_train)
            model, params, inner_score = search.best_estimator_, search.best_params_, search.best_score_
        else:
            model.set_params(**params).fit(X_train, y_train)
        fit_time = time.perf_counter() - t0
        t1 = time.perf_counter()
        pred = model.predict(ds.take(split.test))
        predict_time = time.perf_counter() - t1
        y_test = ds.y[split.test]
        return dict(**scores(y_test, pred), **confusion(y_test, pred), fit_time_s=fit_time,
                    predict_time_s=predict_time, inner_cv_accuracy=float(inner_score), tuned=n_splits >= 2,
                    chosen=f"C={params['classifier__C']:g}")


class TextFeatures(Features):
    """``features`` on texts: the language model's frozen embeddings + standardised logistic regression; ``C`` tuned.

    The embeddings (``layer=None``: the final ones, the backbone's own
    pooling, e.g. the mean of the tokens' last hidden states for
    all-MiniLM-L6-v2) are computed once for every text, as image features
    are; their time per text is charged to each run.

    Examples
    --------
    >>> from sktransfer.benchmark.text import text_dataset
    >>> from sktransfer.benchmark._text_methods import TextFeatures
    >>> from sktransfer.benchmark._methods import Settings
    >>> ds = text_dataset("tiny", ["good", "bad", "fine", "poor"], [1, 0, 1, 0], "4 words")
    >>> list(TextFeatures(Settings(backbone="all-MiniLM-L6-v2")).variants(ds))
    ['final']
    """

    def variants(self, ds):
        s = self.settings
        return {"final": PretrainedFeatureExtractor(s.backbone, layer=None, device=s.device, verbose=0)}


#: The methods of a text dataset by name, in the order of its tables (``finetune`` and ``probe`` are shared).
TEXT_METHOD_CLASSES = {cls.name: cls for cls in (TfIdf, TextFeatures, FineTune, Probe)}
#: The text methods' names, also the default methods of a text dataset.
TEXT_METHODS = tuple(TEXT_METHOD_CLASSES)


def method_class(name, modality):
    """The class of method ``name`` for a dataset of ``modality``; a ``ValueError`` when it takes the other kind.

    Examples
    --------
    >>> from sktransfer.benchmark._text_methods import method_class
    >>> method_class("features", "text").__name__, method_class("features", "image").__name__
    ('TextFeatures', 'Features')
    >>> method_class("hog", "text")
    Traceback (most recent call last):
    ...
    ValueError: method(s) 'hog' classify images, and this dataset holds texts: choose from tfidf, features, ...
    """
    classes = TEXT_METHOD_CLASSES if modality == "text" else METHOD_CLASSES
    if name not in classes:
        raise _wrong_kind([name], modality, "this dataset")
    return classes[name]


def _wrong_kind(names, modality, dataset):
    """The ValueError of methods that take the other modality than ``dataset``'s."""
    classes, other = (TEXT_METHOD_CLASSES, "images") if modality == "text" else (METHOD_CLASSES, "texts")
    return ValueError(
        f"method(s) {', '.join(map(repr, names))} classify {other}, and {dataset} holds "
        f"{'texts' if modality == 'text' else 'images'}: choose from {', '.join(classes)}."
    )


def _check_backbone(backbone, methods, modality, dataset):
    """Refuse a backbone of the other modality when a method uses it."""
    takes = backbone_modality(backbone)
    users = [m for m in methods if m not in _NO_BACKBONE]
    if takes != modality and users:
        fix = (f"a language-model backbone, e.g. {TEXT_BACKBONE!r} (the default for texts: leave backbone out)"
               if modality == "text" else "an image backbone, e.g. 'efficientnet_lite0' (leave backbone out)")
        raise ValueError(
            f"backbone {backbone!r} (--backbone) takes {takes}s, but {dataset} holds {modality}s and "
            f"{', '.join(map(repr, users))} use(s) the backbone. Pass {fix}."
        )


def check_image_run(methods, dataset, backbone, default_backbone):
    """An image run's backbone (``default_backbone`` for None), after refusing text methods and text backbones.

    Examples
    --------
    >>> from sktransfer.benchmark._text_methods import check_image_run
    >>> check_image_run(["hog", "features"], "digits", None, "efficientnet_lite0")
    'efficientnet_lite0'
    >>> check_image_run(["tfidf"], "digits", None, "efficientnet_lite0")
    Traceback (most recent call last):
    ...
    ValueError: method(s) 'tfidf' classify texts, and 'digits' holds images: choose from pixels, hog, ...
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    text_only = [m for m in methods if m in TEXT_METHOD_CLASSES and m not in METHOD_CLASSES]
    if text_only:
        raise _wrong_kind(text_only, "image", _name(dataset))
    backbone = default_backbone if backbone is None else backbone
    _check_backbone(backbone, methods, "image", _name(dataset))
    return backbone


def _name(dataset):
    return repr(getattr(dataset, "name", None) or str(dataset))


def check_text_arguments(methods, labels_per_class, *, dataset, backbone, image_size, unlabeled, target, **common):
    """Check a text run's arguments before any work: its methods, sizes, ``finetune_params`` and backbone.

    A None ``backbone`` becomes :data:`TEXT_BACKBONE`. Image
    methods, a backbone for images, ``image_size``, ``unlabeled`` and
    ``target`` (nothing for texts uses them yet) are a ``ValueError`` that
    says what to drop; ``common`` (``n_seeds``, ``cv``, ``n_jobs``,
    ``finetune_params``, ``finetune_grid``, ``test_size``) is checked as for
    images, by :func:`~sktransfer.benchmark._setup.check_arguments`.

    Examples
    --------
    >>> from sktransfer.benchmark._text_methods import check_text_arguments
    >>> check_text_arguments(["tfidf"], [64, 8], dataset="rotten-tomatoes", backbone=None, image_size=None,
    ...                      unlabeled=False, target=None, n_seeds=1, cv=3, n_jobs=1, finetune_params=None,
    ...                      finetune_grid=None, test_size=0.3)
    (['tfidf'], [8, 64], {}, 'all-MiniLM-L6-v2')
    """
    name = _name(dataset)
    for given, what in ((unlabeled, "unlabeled (--unlabeled, the 'fixmatch' method) learns from unlabelled images"),
                        (target is not None, "target (--target, domain mode) adapts between image domains"),
                        (image_size is not None, "image_size (--image-size) resizes images")):
        if given:
            raise ValueError(f"{what}; {name} holds texts, which it cannot apply to. Drop it.")
    names = list(dict.fromkeys([methods] if isinstance(methods, str) else methods))
    unknown = [m for m in names if m not in TEXT_METHOD_CLASSES and m not in METHOD_CLASSES]
    if not names:
        raise ValueError(f"No methods to compare; choose one or more of {', '.join(TEXT_METHODS)}.")
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(map(repr, unknown))} for texts; choose from "
                         f"{', '.join(TEXT_METHODS)}.")
    images_only = [m for m in names if m not in TEXT_METHOD_CLASSES]
    if images_only:
        raise _wrong_kind(images_only, "text", name)
    backbone = TEXT_BACKBONE if backbone is None else backbone
    _check_backbone(backbone, names, "text", name)
    # check_arguments knows the image registry: the shared names stand for the text methods (tfidf has no
    # arguments of its own: "features" stands for it when alone).
    shared = [m for m in names if m in METHOD_CLASSES] or ["features"]
    _, sizes, finetune_params = check_arguments(shared, labels_per_class, image_size=None, unlabeled=False,
                                                target=None, **common)
    return names, sizes, finetune_params, backbone
