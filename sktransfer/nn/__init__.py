"""Network pieces the estimators assemble.

- ``_encoder``: normalise -> trunk -> pool, and streaming inference;
- ``_text_encoder``: token ids -> language model -> pooled over the real tokens;
- ``_heads``: linear and MLP heads, the probe's standardisation layer, the domain discriminator;
- ``_network``: an encoder and a head, trainable from the top;
- ``_augment``: batch augmentation on the device, and test-time views;
- ``_views``: test-time views (outputs averaged over augmented copies);
- ``_spec``: :class:`ArchSpec`, what a network is rebuilt, pickled, exported and explained from.
"""

from ._augment import PRESETS, BatchAugment, resolve_augment
from ._encoder import POOLINGS, ImageEncoder, encode_batches, feature_width, pool_features, recompute_batchnorm
from ._heads import FeatureScaler, domain_discriminator, grad_reverse, make_head, probe_head
from ._network import AugmentedView, BackboneNetwork
from ._spec import ARCHITECTURE_PARAMS, ArchSpec
from ._text_encoder import TEXT_POOLINGS, TextEncoder, make_encoder, masked_pool
from ._views import TTA_PRESET, encode_views, views_of

__all__ = ["ARCHITECTURE_PARAMS", "POOLINGS", "PRESETS", "TEXT_POOLINGS", "TTA_PRESET", "TextEncoder", "make_encoder",
           "masked_pool", "ArchSpec", "AugmentedView", "BackboneNetwork",
           "BatchAugment", "FeatureScaler", "ImageEncoder", "domain_discriminator", "encode_batches", "encode_views",
           "feature_width", "grad_reverse", "make_head", "pool_features", "probe_head", "recompute_batchnorm",
           "resolve_augment", "views_of"]
