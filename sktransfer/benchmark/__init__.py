"""The ``sktransfer benchmark`` command: what does transfer learning buy on your images?

Compares, on the same stratified splits and at several numbers of labelled
images per class, seven ways to classify images:

- ``pixels``: resized raw pixels + RBF SVM;
- ``hog``: HOG features + RBF SVM;
- ``lbp``: local binary pattern histograms + RBF SVM;
- ``features``: a frozen pretrained backbone + logistic regression;
- ``finetune``: a fine-tuned pretrained backbone;
- ``probe``: the same classifier's own linear probe (``trainable_blocks=0``);
- ``scratch``: the same network and recipe from random weights.

Scores are accuracy and macro precision, recall and F1.

Run it from the shell (``sktransfer benchmark``, ``python -m
sktransfer.benchmark``) or from Python with :func:`run_benchmark`. See
docs/benchmarking.md.
"""

from .datasets import BUILTIN_DATASETS, Dataset, load_dataset
from .runner import METHODS, BenchmarkResult, run_benchmark

__all__ = ["BUILTIN_DATASETS", "METHODS", "BenchmarkResult", "Dataset", "load_dataset", "run_benchmark"]
