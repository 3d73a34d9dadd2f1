"""What every ``"auto"`` resolves to: the thresholds and rules, in one place.

Each rule was measured; the numbers and where they were measured are next to
each constant. Estimators, the probe, the extractor and the explanations read
them from here, so a rule changes in one place.
"""

from __future__ import annotations

import math

__all__ = ["EXPLAIN_MIN_MAP_SIDE", "EXTRACTOR_SMALL_IMAGE", "FINAL_LAYER_MIN_SIDE", "GLYPH_RECIPE",
           "MIN_IMAGES_FOR_VALIDATION", "MIN_PER_CLASS_FOR_VALIDATION", "PATIENCE", "PHOTO_MIN_SIDE", "PHOTO_RECIPE",
           "STANDARDIZE_TEXT_PROBE", "TEXT_RECIPE", "VALIDATION_FRACTION", "auto_image_size", "extractor_layers", "layer_candidates", "mid_blocks",
           "resolve_recipe", "validation_fraction"]

#: ``PretrainedFeatureExtractor(layer="auto")``: images whose larger side is below this
#: (pixels: digits, glyphs, thumbnails) get pooled mid-level blocks, larger ones the final features.
EXTRACTOR_SMALL_IMAGE = 64

#: ``lr="auto"`` and ``augment="auto"`` of the fine-tuned classifiers: images whose larger side
#: is at least this (pixels) get :data:`PHOTO_RECIPE`, smaller ones (digits, glyphs, thumbnails)
#: :data:`GLYPH_RECIPE`. The extractor's small-image rule, so one size separates the two kinds.
PHOTO_MIN_SIDE = EXTRACTOR_SMALL_IMAGE

#: The recipe tuned on digits, MNIST and Fashion-MNIST (docs/benchmark_results.md): a high head
#: rate and rotations, shears and erasing, which glyphs tolerate.
GLYPH_RECIPE = {"lr": 1e-2, "augment": "strong"}

#: The recipe for photographs, chosen by benchmarks/bench_photo_recipe.py (docs/finetuning.md):
#: on crops of eight photographs, 10 per class, the glyph recipe ended 14 points below its own
#: probe (0.746 vs 0.883, one seed); this one, from the mid-level blocks, 0.963-0.971 against
#: its probe's 0.925-0.954 (three seeds).
PHOTO_RECIPE = {"lr": 1e-3, "augment": "photo"}

#: The recipe for text backbones (language models): no augmentation (an image preset on token
#: ids would be noise), and a head rate at which the top layer trains at ``lr * lr_decay``.
#: Chosen by benchmarks/bench_text.py (docs/text.md).
TEXT_RECIPE = {"lr": 1e-4, "augment": None}

#: Whether the classifiers' probe standardises a text backbone's features. Sentence embeddings are
#: normalised, and a plain logistic regression on them did better: frozen all-MiniLM-L6-v2 on Rotten
#: Tomatoes (10 seeds, 1,000 texts tested) 0.601 unstandardised vs 0.596 standardised at 8 labels per
#: class, 0.676 vs 0.650 at 64.
STANDARDIZE_TEXT_PROBE = False

#: Below this input side (pixels) ``layer="auto"`` does not offer the final features to
#: fine-tuning: a stride-32 backbone's last map is then 1x1 or 2x2, whose BatchNorm
#: statistics differ wildly between small training batches and inference. Measured on
#: digits, 5 per class: fine-tuning from a final-layer probe collapsed to 0.24 accuracy at
#: 32 px and to 0.43 on one of two seeds at 64 px; from mid-level blocks 0.95-0.96.
FINAL_LAYER_MIN_SIDE = 128

#: ``explain(layer="auto")``: the highest feature map with at least this many positions a
#: side. On MNIST at 32 pixels, Grad-CAM on the 2x2 map deleted no better than a random map
#: (area 0.50 vs 0.51), on the 4x4 map below it clearly better (0.46 vs 0.52).
EXPLAIN_MIN_MAP_SIDE = 4

#: ``early_stopping="auto"``: a tenth is held out, and training stops after this many
#: epochs without a lower validation loss, when the training set can spare the images.
VALIDATION_FRACTION = 0.1
PATIENCE = 5

#: A classifier holds a tenth out only when its smallest class (multi-label: the rarer value
#: of the rarest label) has at least this many images: below that, a tenth of the labels is
#: worth more as training data than as a noisy stopping signal (the LP-FT start and the
#: cosine schedule already keep small fits from drifting).
MIN_PER_CLASS_FOR_VALIDATION = 100

#: A regressor holds a tenth out from this many training images up.
MIN_IMAGES_FOR_VALIDATION = 1000


def auto_image_size(image_shape, largest=(224, 224)):
    """``image_size="auto"``: the larger image side rounded up to a multiple of 32, within [32, the backbone's].

    Small images are not blown up to the backbone's 224 px: a 28x28 digit
    at 32 px trains about 40x faster than at 224 px (see docs/finetuning.md
    for what each size buys).

    Examples
    --------
    >>> from sktransfer._auto import auto_image_size
    >>> auto_image_size((8, 8)), auto_image_size((28, 28)), auto_image_size((100, 60)), auto_image_size((480, 640))
    ((32, 32), (32, 32), (128, 128), (224, 224))
    """
    side = max(image_shape) if image_shape else max(largest)
    side = int(min(max(largest), max(32, math.ceil(side / 32) * 32)))
    return (side, side)


def mid_blocks(n_blocks):
    """The mid-level blocks of a backbone with ``n_blocks`` blocks (three around the middle).

    Examples
    --------
    >>> from sktransfer._auto import mid_blocks
    >>> mid_blocks(8)
    [3, 4, 5]
    >>> mid_blocks(3)
    [1]
    """
    n = int(n_blocks)
    return sorted({max(1, n // 2 - 1), n // 2, max(1, min(n - 2, n // 2 + 1))} & set(range(n)))


def extractor_layers(n_blocks, typical_shape):
    """``PretrainedFeatureExtractor(layer="auto")``: mid-level blocks for small images, else None (final).

    Examples
    --------
    >>> from sktransfer._auto import extractor_layers
    >>> extractor_layers(8, (8, 8)), extractor_layers(8, (480, 640))
    ([3, 4, 5], None)
    """
    return mid_blocks(n_blocks) if max(typical_shape) < EXTRACTOR_SMALL_IMAGE else None


def layer_candidates(n_blocks, image_size=None):
    """``{"mid": [...], "final": None}``: the block sets the fine-tuned estimators' ``layer="auto"`` chooses among.

    In preference order: the probe's cross-validation breaks ties in favour
    of the first, the mid-level blocks, which also run fewer blocks. On crops
    of photographs (10 per class, 160 px) both candidates scored 1.0 in
    cross-validation, and the mid-level probe then scored 0.925-0.954 on
    test crops where the final features scored 0.883-0.913 (three seeds,
    ``benchmarks/bench_photo_recipe.py``).

    Examples
    --------
    >>> from sktransfer._auto import layer_candidates
    >>> layer_candidates(8, (224, 224))
    {'mid': [3, 4, 5], 'final': None}
    >>> layer_candidates(8, (64, 64))
    {'mid': [3, 4, 5]}
    """
    mid = mid_blocks(n_blocks)
    if not mid or mid == [n_blocks - 1]:
        return {"final": None}
    if image_size is not None and min(image_size) < FINAL_LAYER_MIN_SIDE:
        return {"mid": mid}
    return {"mid": mid, "final": None}


def resolve_recipe(lr, augment, typical_shape, modality="image", image_recipe=None):
    """``(lr, augment)`` with ``"auto"`` resolved from the images' ``(H, W)`` (photographs or glyphs), or text.

    ``image_recipe`` (a dict like :data:`GLYPH_RECIPE`) replaces the size rule for images: a task
    whose recipe was not measured by image kind (regression) keeps one recipe.

    Examples
    --------
    >>> from sktransfer._auto import resolve_recipe
    >>> resolve_recipe("auto", "auto", (28, 28)), resolve_recipe("auto", "auto", (160, 160))
    ((0.01, 'strong'), (0.001, 'photo'))
    >>> resolve_recipe(3e-4, "auto", (160, 160)), resolve_recipe("auto", "auto", None, modality="text")
    ((0.0003, 'photo'), (0.0001, None))
    """
    if modality == "text":
        recipe = TEXT_RECIPE
    elif image_recipe is not None:
        recipe = image_recipe
    elif typical_shape and max(typical_shape) >= PHOTO_MIN_SIDE:
        recipe = PHOTO_RECIPE
    else:
        recipe = GLYPH_RECIPE
    return (recipe["lr"] if isinstance(lr, str) and lr == "auto" else lr,
            recipe["augment"] if isinstance(augment, str) and augment == "auto" else augment)


def validation_fraction(fraction, early_stopping, can_spare):
    """The held-out fraction ``validation_fraction`` and ``early_stopping`` ask for (None: no split).

    ``can_spare`` is a callable: whether the task's training set can spare a
    tenth (asked only when both parameters are ``"auto"``).

    Examples
    --------
    >>> from sktransfer._auto import validation_fraction
    >>> validation_fraction("auto", "auto", lambda: False), validation_fraction("auto", 3, lambda: False)
    (None, 0.1)
    """
    if fraction != "auto":
        return fraction
    if early_stopping is None:
        return None
    if early_stopping != "auto":
        return VALIDATION_FRACTION
    return VALIDATION_FRACTION if can_spare() else None
