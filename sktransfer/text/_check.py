"""What counts as a text input, and the errors for everything else."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_texts"]

_SHOWN = 5  # rows named in a message


def check_texts(X):
    """``X`` (a list, tuple, 1-D array or pandas Series of ``str``) as a list of ``str``.

    The rules: every row is a ``str`` (NumPy's ``str_`` included); an empty
    or blank string is a text like any other (the model embeds it as its two
    special tokens). Missing values (None, NaN, ``pd.NA``), bytes, numbers
    and other objects are refused with the rows that hold them; so are a
    single string, a 2-D array and a DataFrame, each with the fix.

    Parameters
    ----------
    X : list, tuple, ndarray or pandas Series of str

    Returns
    -------
    texts : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.text import check_texts
    >>> check_texts(np.array(["a good film", ""]))
    ['a good film', '']
    >>> check_texts(["fine", None])
    Traceback (most recent call last):
    ...
    ValueError: X holds 1 missing text (None or NaN) at rows [1]; drop those rows or fill them (e.g. X.fillna('')).
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"X is a single {type(X).__name__} ({_short(X)}); a language-model backbone takes a list, 1-D array "
            "or pandas Series of texts: pass [X] for one text."
        )
    if hasattr(X, "columns"):  # a DataFrame: which column is the text is the user's to say
        raise TypeError(
            f"X is a DataFrame with columns {list(X.columns)[:10]}; a language-model backbone takes one column of "
            "texts: pass X['<text column>'] (in a Pipeline, a ColumnTransformer can select it)."
        )
    if hasattr(X, "iloc") or hasattr(X, "to_numpy"):  # a Series, or an extension array (pandas' StringArray)
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]  # one column of texts, as sklearn's column selectors give it
        if X.ndim != 1:
            raise ValueError(
                f"X is a {X.ndim}-D array of shape {X.shape}; a language-model backbone takes a 1-D array of texts "
                "(one per row)."
            )
        X = X.tolist()
    elif not isinstance(X, (list, tuple)):
        raise TypeError(
            f"X is a {type(X).__name__}; a language-model backbone takes a list, tuple, 1-D array or pandas Series "
            "of str."
        )
    texts = list(X)
    if not texts:
        raise ValueError("X holds no texts (0 rows); pass at least one.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        _refuse(texts, bad)
    return [str(t) for t in texts]  # np.str_ -> str


def _refuse(texts, bad):
    missing = [i for i in bad if _is_missing(texts[i])]
    if missing:
        raise ValueError(
            f"X holds {len(missing)} missing text{'s' * (len(missing) > 1)} (None or NaN) at rows "
            f"{_rows(missing)}; drop those rows or fill them (e.g. X.fillna(''))."
        )
    raw = [i for i in bad if isinstance(texts[i], (bytes, bytearray))]
    if raw:
        raise TypeError(
            f"X holds bytes at rows {_rows(raw)}; decode them to str first (e.g. b.decode('utf-8')). "
            "A language-model backbone takes text, not encoded bytes."
        )
    kinds = sorted({type(texts[i]).__name__ for i in bad})
    raise TypeError(
        f"X holds {', '.join(kinds)} values at rows {_rows(bad)}, not str; a language-model backbone takes texts. "
        "Convert them (e.g. [str(v) for v in X]) if they are meant as text."
    )


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value != value  # NaN
    return type(value).__name__ in ("NAType", "NaTType")


def _rows(rows):
    shown = ", ".join(str(i) for i in rows[:_SHOWN])
    return f"[{shown}{', ...' if len(rows) > _SHOWN else ''}]"


def _short(text, width=40):
    text = repr(text)
    return text if len(text) <= width else text[: width - 3] + "..."
