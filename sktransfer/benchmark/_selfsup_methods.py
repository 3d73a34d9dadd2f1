"""The self-supervised methods: a backbone pre-trained on the split's training images, then probed or fine-tuned."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..estimators import SelfSupervisedPretrainer
from ._methods import NetworkMethod, Probe

__all__ = ["SelfSupervised", "SelfSupervisedProbe"]


class SelfSupervised(NetworkMethod):
    """``self-supervised``: :class:`~sktransfer.FineTunedClassifier` over a backbone pre-trained on the split.

    The backbone is :class:`~sktransfer.SelfSupervisedPretrainer` (its
    defaults) fitted once per seed on the seed's training images, labelled
    and unlabelled (all but the test set). Every row's ``fit_time_s``
    includes the pre-training: the method's whole cost.

    Examples
    --------
    >>> from sktransfer.benchmark._selfsup_methods import SelfSupervised
    >>> SelfSupervised().estimator_params(), SelfSupervised().pretrainer_params()
    ({}, {})
    """

    name = "self-supervised"

    def pretrainer_params(self):
        """The pretrainer's parameters: the benchmark's ``image_size`` when given, else its defaults."""
        return {} if self.settings.image_size is None else {"image_size": self.settings.image_size}

    def pretrained(self, ds, split):
        """``(pretrainer, seconds its fit took)``: fitted on the split's training images, or reused.

        Every size of a seed and both self-supervised methods pre-train on the
        same images (all but the test set), so one fit serves them all; it is
        kept in ``settings.shared``, which lives as long as the benchmark run.
        """
        images = np.sort(np.concatenate([split.train, split.pool]))
        key = ("self-supervised", ds.name, len(ds), split.seed, images.tobytes(), self.settings.backbone,
               self.settings.device, tuple(sorted(self.pretrainer_params().items())))
        shared = self.settings.shared
        if key not in shared:
            start = time.perf_counter()
            pretrainer = SelfSupervisedPretrainer(self.settings.backbone, random_state=split.seed,
                                                  device=self.settings.device, verbose=0, **self.pretrainer_params())
            pretrainer.fit(ds.take(images))
            shared[key] = pretrainer, time.perf_counter() - start
        return shared[key]

    def n_unlabeled(self, split):
        return len(split.pool)

    def run(self, ds, split):
        pretrainer, seconds = self.pretrained(ds, split)
        settings = self.settings
        self.settings = dataclasses.replace(settings, backbone=pretrainer)  # run builds on settings.backbone
        try:
            result = super().run(ds, split)
        finally:
            self.settings = settings
        result["fit_time_s"] += seconds  # the method's whole cost, also when another run paid for it
        epochs = f"{pretrainer.n_epochs_} epoch" + ("s" * (pretrainer.n_epochs_ != 1))
        result["chosen"] = f"pre-trained {epochs} in {seconds:.0f} s; {result['chosen']}"
        return result


class SelfSupervisedProbe(SelfSupervised, Probe):
    """``self-supervised-probe``: the linear probe (``trainable_blocks=0``) over the same pre-trained backbone.

    Examples
    --------
    >>> from sktransfer.benchmark._selfsup_methods import SelfSupervisedProbe
    >>> SelfSupervisedProbe().estimator_params()
    {'trainable_blocks': 0}
    """

    name = "self-supervised-probe"  # Probe's parameters and grid, SelfSupervised's backbone and run
