"""Every image method of the benchmark by name, in the order of the tables (:data:`METHOD_CLASSES`)."""

from ._methods import (CORAL, DANN, HOG, LBP, AdaBN, Features, FineTune, FixMatch, Pixels, Probe, Scratch,
                       SkadaCORAL, SkadaSubspaceAlignment)
from ._selfsup_methods import SelfSupervised, SelfSupervisedProbe

__all__ = ["METHOD_CLASSES"]

#: Every method by name, in the order of ``METHODS``.
METHOD_CLASSES = {cls.name: cls for cls in (Pixels, HOG, LBP, Features, FineTune, Probe, Scratch, FixMatch,
                                            SelfSupervised, SelfSupervisedProbe, AdaBN, DANN, CORAL, SkadaCORAL,
                                            SkadaSubspaceAlignment)}
