"""Network pieces the estimators assemble (internal).

- ``_encoder``: normalise -> trunk -> pool, and streaming inference;
- ``_heads``: linear and MLP heads, and the probe's standardisation layer;
- ``_network``: an encoder and a head, trainable from the top;
- ``_augment``: batch augmentation on the device, and test-time views.
"""
