"""Training the built network, then checking it against the probe it started from.

LP-FT starts fine-tuning from a converged linear probe, and fine-tuning can
still end below it (issue 20: on photographs, the glyph recipe lost 14 points
to its own probe). So when a validation split exists, the probe is scored on
it first (the task's score: accuracy, or R^2): a perfect probe is the model
at once, at the probe's cost. Otherwise the fine-tuned network is scored on
it too, and the probe is the model whenever it scores better. Without a
split (few labels) nothing held out can judge them; the recipe itself was
chosen so that it does not lose to the probe on the benchmark's tasks
(docs/finetuning.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .._device import on_device
from ..nn import views_of
from ..runtimes import NetworkRuntime
from ..training import Freezing, TrainingPlan, handle_interrupt, train_network
from ._contrastive_fit import contrastive_fit, resolve_schedule
from ._params import nested_params

__all__ = ["FINE_TUNED", "PROBE", "Trained", "train"]

#: The two models ``selected_`` names.
PROBE, FINE_TUNED = "probe", "fine-tuned"


@dataclass
class Trained:
    """What training left: the history, whether Ctrl-C ended it, the freezing, and which model was kept.

    (Whether the head trained on cached features is ``data.cached``, which :func:`train` sets.)
    """

    history: object
    interrupted: bool
    freezing: Freezing
    selected: str
    scores: dict


def train(estimator, built, data, spec, device, augment, lr):
    """Freeze, then train ``built.module`` (or keep the probe); return a :class:`Trained`.

    With a validation split, an LP-FT start and an estimator that checks
    against its probe, the probe's network is scored, kept aside, and
    scored against the fine-tuned one afterwards; ``built.module`` ends as
    the better one (the probe at once when it is perfect).

    Examples
    --------
    See :class:`~sktransfer.FineTunedClassifier`, whose ``fit`` calls it.
    """
    freezing = Freezing.resolve(built.arch.blocks, estimator.trainable_blocks, built.arch.name)
    freezing.check_batch_size(estimator.batch_size, built.module)
    unlabeled = len(data.unlabeled_idx) > 0
    freezing.apply(built.module, gradual=bool(estimator.unfreeze_every))
    # With the backbone frozen, the converged probe is the model: more epochs
    # of the head (augmented or not) could only move it off the optimum.
    data.cached = freezing.frozen and augment is None and not unlabeled
    probe_trained = built.probe is not None and built.probe.history is not None
    if probe_trained and freezing.frozen and not unlabeled:
        return Trained(built.probe.history, False, freezing, PROBE, {})
    check = probe_trained and data.valid_idx is not None and estimator._checks_against_probe
    if check:
        probe_state = copy.deepcopy(built.module.state_dict())
        scores = {PROBE: _validation_score(built.module, data, spec, estimator, device, trained=False)}
        if scores[PROBE] >= 1.0:  # a perfect probe: nothing fine-tuning could show on these images
            return Trained(built.probe.history, False, freezing, PROBE, scores)
    if resolve_schedule(estimator, spec) == "contrastive":
        history, interrupted = contrastive_fit(estimator, built, data, spec, device, lr, freezing)
    else:
        history, interrupted = _skorch_fit(estimator, built, data, spec, device, augment, lr, freezing)
    if not check:
        return Trained(history, interrupted, freezing, FINE_TUNED, {})
    scores[FINE_TUNED] = _validation_score(built.module, data, spec, estimator, device, trained=True)
    # A tie keeps the fine-tuned network, the model that was asked for.
    if scores[PROBE] > scores[FINE_TUNED]:
        built.module.load_state_dict(probe_state)
        return Trained(history, interrupted, freezing, PROBE, scores)
    return Trained(history, interrupted, freezing, FINE_TUNED, scores)


def _skorch_fit(estimator, built, data, spec, device, augment, lr, freezing):
    """Fine-tune ``built.module`` through skorch; return ``(history, interrupted)``."""
    task = estimator._task_net(data.targets, spec, data.valid_idx is not None)
    if len(data.unlabeled_idx):
        task = estimator._unlabeled_net(task, augment, built.arch, lr)
    history, interrupted, max_epochs = train_network(built.module, data, training_plan(estimator, lr), freezing,
                                                     task, device, augment)
    if interrupted:
        handle_interrupt(history, max_epochs, estimator.on_interrupt, type(estimator).__name__)
    estimator._after_training(built.module, data, device)
    return history, interrupted


def training_plan(estimator, lr):
    """The estimator's :class:`~sktransfer.training.TrainingPlan`, at the head's rate ``lr`` (``"auto"`` resolved)."""
    return TrainingPlan(
        lr=lr, max_epochs=estimator.max_epochs, min_steps=estimator.min_steps, batch_size=estimator.batch_size,
        lr_decay=estimator.lr_decay, weight_decay=estimator.weight_decay, l2sp=estimator.l2sp,
        optimizer=estimator.optimizer, lr_schedule=estimator.lr_schedule, warmup_epochs=estimator.warmup_epochs,
        unfreeze_every=estimator.unfreeze_every, early_stopping=estimator.early_stopping,
        callbacks=tuple(estimator.callbacks or ()), verbose=estimator.verbose, nested=nested_params(estimator))


def _validation_score(module, data, spec, estimator, device, trained):
    """The task's score of ``module`` on the validation rows, predicting as the fitted model would.

    A fine-tuned network (``trained``) averages its test-time views; the
    probe never saw augmented images and predicts from the image alone.
    """
    rows = np.unique(data.valid_idx)  # whole-number weights repeat rows: score each image once
    with on_device(module.eval(), device) as moved:
        outputs = NetworkRuntime().outputs(moved, data.images.subset(rows), runtime="torch",
                                           n_views=views_of(estimator.tta, trained, estimator._modality),
                                           batch_size=estimator.batch_size, device=device)
    return spec.quality(outputs, data.targets[rows])
