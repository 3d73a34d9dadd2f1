"""What the estimators hand to skorch, which owns the training loop.

- ``_data``: a dataset of image rows (or cached features) and the iterator that
  moves its batches to the device;
- ``_optim``: parameter groups with layer-wise rates, the optimizer factory and
  the learning-rate schedules;
- ``_callbacks``: gradual unfreezing, per-epoch learning-rate records, failing on a diverged loss;
- ``_nets``: skorch nets with the L2-SP penalty in their loss;
- ``_unlabeled``: skorch nets whose training step also learns from unlabelled rows (FixMatch, DANN, CORAL);
- ``_contrastive``: the contrastive stage (pairs of labelled texts, SetFit's loss);
- ``_selfsup``: self-supervised objectives on unlabelled images (SimCLR, BYOL, DeepCluster, masked image
  modelling) and their loop;
- ``_probe``: linear probes (logistic, multi-label, ridge) that start LP-FT, and the choice of blocks;
- ``_assemble``: the training plan, the freezing and the task's net -> one skorch net;
- ``_run``: running that net on the device, and what a Ctrl-C leaves.
"""

from ._assemble import Freezing, TaskNet, TrainingPlan, assemble_net
from ._callbacks import GradualUnfreeze, RecordLR, StopOnDivergence, labeled_accuracy, subset_accuracy
from ._contrastive import CONTRASTIVE_ITERATIONS, contrastive_pairs, train_contrastive
from ._data import DeviceBatchIterator, ImageDataset
from ._nets import ClassifierNet, InterruptMixin, L2SPMixin, MultiLabelLoss, MultiLabelNet, RegressorNet
from ._optim import MergedGroups, one_cycle, optimizer_keywords, param_groups, scaled_rates, warmup_cosine
from ._probe import (ProbeResult, TaskProbe, choose_layers, fit_label_probe, fit_multilabel_probe, fit_probe,
                     fit_ridge_probe, logistic_probe, multilabel_probe, ridge_probe, run_probe)
from ._selfsup import (SELF_SUPERVISED_METHODS, BYOLObjective, ClusterObjective, MaskedObjective, SimCLRObjective,
                       nt_xent, train_self_supervised)
from ._run import TrainingData, encode_images, handle_interrupt, train_network
from ._unlabeled import DomainAdaptationNet, FixMatchNet, coral_loss, ganin_coefficient, pseudo_label_loss

__all__ = ["SELF_SUPERVISED_METHODS", "BYOLObjective", "ClusterObjective", "MaskedObjective", "SimCLRObjective",
           "nt_xent", "train_self_supervised",
           "CONTRASTIVE_ITERATIONS", "contrastive_pairs", "train_contrastive", "ClassifierNet", "DeviceBatchIterator", "DomainAdaptationNet", "FixMatchNet", "Freezing",
           "GradualUnfreeze", "ImageDataset", "InterruptMixin", "L2SPMixin", "MergedGroups", "MultiLabelLoss",
           "MultiLabelNet", "ProbeResult", "RecordLR", "RegressorNet", "StopOnDivergence", "TaskNet", "TaskProbe",
           "TrainingData", "TrainingPlan", "assemble_net", "choose_layers", "coral_loss", "encode_images",
           "fit_label_probe", "fit_multilabel_probe", "fit_probe", "fit_ridge_probe", "ganin_coefficient",
           "handle_interrupt", "labeled_accuracy", "logistic_probe", "multilabel_probe", "one_cycle",
           "optimizer_keywords", "param_groups", "pseudo_label_loss", "scaled_rates", "ridge_probe", "run_probe", "subset_accuracy",
           "train_network", "warmup_cosine"]
