"""What a text backbone changes in an estimator: the image-only parameters it refuses, and why.

The backbone decides the modality (``backbone_modality``). A language model
takes texts, so the parameters that shape images (``image_size``,
``input_shape``, an augmentation preset) have nothing to act on: set to
anything but their defaults they are refused here, with the fix, before any
work. Test-time views (``tta``) are image transforms too: a text model
predicts from the text alone, whatever ``tta`` says (documented).
"""

from __future__ import annotations

__all__ = ["check_modality_params", "check_text_params", "check_unlabeled_texts"]


def check_modality_params(estimator, modality):
    """For a text backbone: that the estimator takes texts, and :func:`check_text_params`."""
    if modality != "text":
        return
    if not estimator._takes_text:
        raise ValueError(f"{type(estimator).__name__} adapts image networks across domains; backbone "
                         f"{estimator.backbone!r} is a language model. Use FineTunedClassifier for texts.")
    check_text_params(estimator)


def check_unlabeled_texts(modality, n_unlabeled):
    """Refuse texts labelled -1 that would train: FixMatch's views are image augmentations."""
    if modality == "text" and n_unlabeled:
        raise ValueError(f"{n_unlabeled} texts are labelled -1 (unlabelled): learning from unlabelled texts is not "
                         "built (FixMatch augments images). Drop those rows, or set semi_supervised='none' to ignore "
                         "them.")


def check_text_params(estimator):
    """Raise a ValueError naming each image-only parameter ``estimator`` sets for a text backbone.

    Examples
    --------
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.estimators._modality import check_text_params
    >>> check_text_params(FineTunedClassifier("all-MiniLM-L6-v2", image_size=64))
    Traceback (most recent call last):
    ...
    ValueError: FineTunedClassifier(backbone='all-MiniLM-L6-v2') takes texts, so image_size=64 has nothing to act on (it resizes images): leave it at its default ('auto').
    """
    params = estimator.get_params(deep=False)
    checks = [
        ("image_size", "auto", "it resizes images"),
        ("input_shape", None, "it reshapes flattened images"),
    ]
    for name, default, why in checks:
        if name in params and not _same(params[name], default):
            _refuse(estimator, name, params[name], why, repr(default))
    augment = params.get("augment", None)
    if augment is not None and not (isinstance(augment, str) and augment == "auto"):
        _refuse(estimator, "augment", augment, "augmentation presets and callables transform images",
                "'auto' or None")
    if params.get("runtime", "torch") != "torch" or params.get("quantize") is not None:
        raise ValueError(
            f"{type(estimator).__name__} with a text backbone runs in torch only: runtime="
            f"{params.get('runtime')!r} and quantize={params.get('quantize')!r} export an image network. Use "
            "runtime='torch' and quantize=None."
        )


def _refuse(estimator, name, value, why, default):
    raise ValueError(
        f"{type(estimator).__name__}(backbone={estimator.backbone!r}) takes texts, so {name}={value!r} has nothing "
        f"to act on ({why}): leave it at its default ({default})."
    )


def _same(a, b):
    return a is b or (isinstance(a, str) and a == b)
