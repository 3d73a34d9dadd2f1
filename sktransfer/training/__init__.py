"""What the estimators hand to skorch, which owns the training loop (internal).

- ``_data``: a dataset of image rows (or cached features) and the iterator that
  moves its batches to the device;
- ``_optim``: parameter groups with layer-wise rates, the optimizer factory and
  the learning-rate schedules;
- ``_callbacks``: gradual unfreezing and per-epoch learning-rate records;
- ``_nets``: skorch nets with the L2-SP penalty in their loss;
- ``_probe``: linear probes (logistic, multi-label, ridge) that start LP-FT.
"""
