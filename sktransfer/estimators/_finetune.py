"""Training the built network, then checking it against the probe it started from.

LP-FT starts fine-tuning from a converged linear probe, and fine-tuning can
still end below it (issue 20: on photographs, the glyph recipe lost 14 points
to its own probe). So when a validation split exists, the fine-tuned network
and the probe are scored on it (the task's score: accuracy, or R^2), and the
probe is the model whenever it scores better. Without a split (few labels)
nothing held out can judge them; the recipe itself was chosen so that it
does not lose to the probe on the benchmark's tasks (docs/finetuning.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .._device import on_device
from ..nn import views_of
from ..runtimes import NetworkRuntime
from ..training import Freezing, TrainingPlan, handle_interrupt, train_network
from ._params import nested_params

__all__ = ["FINE_TUNED", "PROBE", "Trained", "train"]

#: The two models ``selected_`` names.
PROBE, FINE_TUNED = "probe", "fine-tuned"


@dataclass
class Trained:
    """What training left: the history, whether Ctrl-C ended it, the freezing, and which model was kept."""

    history: object
    interrupted: bool
    freezing: Freezing
    cached: bool
    selected: str
    scores: dict


def train(estimator, built, data, spec, device, augment, lr):
    """Freeze, then train ``built.module`` (or keep the probe); return a :class:`Trained`.

    With a validation split, an LP-FT start and an estimator that checks
    against its probe, the probe's network is kept aside and scored against
    the fine-tuned one afterwards; ``built.module`` ends as the better one.

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
        return Trained(built.probe.history, False, freezing, data.cached, PROBE, {})
    check = probe_trained and data.valid_idx is not None and estimator._checks_against_probe
    probe_state = copy.deepcopy(built.module.state_dict()) if check else None
    task = estimator._task_net(data.targets, spec, data.valid_idx is not None)
    if unlabeled:
        task = estimator._unlabeled_net(task, augment, built.arch, lr)
    history, interrupted, max_epochs = train_network(built.module, data, training_plan(estimator, lr), freezing,
                                                     task, device, augment)
    if interrupted:
        handle_interrupt(history, max_epochs, estimator.on_interrupt, type(estimator).__name__)
    estimator._after_training(built.module, data, device)
    selected, scores = FINE_TUNED, {}
    if check:
        selected, scores = _keep_the_better(built.module, probe_state, data, spec, estimator, device)
    return Trained(history, interrupted, freezing, data.cached, selected, scores)


def training_plan(estimator, lr):
    """The estimator's :class:`~sktransfer.training.TrainingPlan`, at the head's rate ``lr`` (``"auto"`` resolved)."""
    return TrainingPlan(
        lr=lr, max_epochs=estimator.max_epochs, min_steps=estimator.min_steps, batch_size=estimator.batch_size,
        lr_decay=estimator.lr_decay, weight_decay=estimator.weight_decay, l2sp=estimator.l2sp,
        optimizer=estimator.optimizer, lr_schedule=estimator.lr_schedule, warmup_epochs=estimator.warmup_epochs,
        unfreeze_every=estimator.unfreeze_every, early_stopping=estimator.early_stopping,
        callbacks=tuple(estimator.callbacks or ()), verbose=estimator.verbose, nested=nested_params(estimator))


def _keep_the_better(module, probe_state, data, spec, estimator, device):
    """Score the fine-tuned ``module`` and the probe (``probe_state``) on the validation rows; keep the better.

    Each is scored as it would predict: the fine-tuned network with its
    test-time views, the probe without (it never saw augmented images). A tie
    keeps the fine-tuned network, the model that was asked for.
    """
    rows = np.unique(data.valid_idx)  # whole-number weights repeat rows: score each image once
    images, targets = data.images.subset(rows), data.targets[rows]
    runtime = NetworkRuntime()

    def score(n_views):
        with on_device(module.eval(), device) as moved:
            outputs = runtime.outputs(moved, images, runtime="torch", n_views=n_views,
                                      batch_size=estimator.batch_size, device=device)
        return spec.quality(outputs, targets)

    tuned_state = copy.deepcopy(module.state_dict())
    scores = {FINE_TUNED: score(views_of(estimator.tta, trained=True))}
    module.load_state_dict(probe_state)
    scores[PROBE] = score(views_of(estimator.tta, trained=False))
    if scores[PROBE] > scores[FINE_TUNED]:
        return PROBE, scores
    module.load_state_dict(tuned_state)
    return FINE_TUNED, scores
