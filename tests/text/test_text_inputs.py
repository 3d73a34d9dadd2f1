"""The text input layer: what counts as texts, the errors for the rest, and padded, length-sorted batches."""

import numpy as np
import pandas as pd
import pytest
import torch

from sktransfer.backbones import text_input_spec
from sktransfer.text import TextSet, as_text_set, check_texts


@pytest.fixture(scope="module")
def spec():
    return text_input_spec("all-MiniLM-L6-v2")


@pytest.mark.parametrize("make", [list, tuple, lambda t: np.array(t, dtype=object), np.array, pd.Series,
                                  lambda t: pd.Series(t, dtype="string"), lambda t: pd.array(t, dtype="string"),
                                  lambda t: np.array(t, dtype=object)[:, None]])
def test_containers_give_the_same_texts(make):
    texts = ["a film", "", "  ", "another one"]
    assert check_texts(make(texts)) == texts


@pytest.mark.parametrize("X, error, match", [
    ("one text", TypeError, r"single str.*pass \[X\]"),
    (b"raw", TypeError, "single bytes"),
    (pd.DataFrame({"text": ["a"], "other": ["b"]}), TypeError, r"DataFrame.*X\['<text column>'\]"),
    (["fine", None, float("nan")], ValueError, r"2 missing texts.*rows \[1, 2\].*fillna"),
    (pd.Series(["fine", pd.NA], dtype="string"), ValueError, r"missing text .*rows \[1\]"),
    (["fine", b"bytes"], TypeError, r"bytes at rows \[1\].*decode"),
    (["fine", 3, 4.5], TypeError, r"float, int values at rows \[1, 2\]"),
    ([], ValueError, "no texts"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "2-D array"),
    (42, TypeError, "int"),
])
def test_bad_texts_are_refused_with_the_fix(X, error, match):
    with pytest.raises(error, match=match):
        check_texts(X)


def test_batches_pad_to_their_longest_text_with_a_mask(spec):
    texts = as_text_set(["short", "a somewhat longer text than that"], *spec)
    batch = next(texts.iter_batches(2))
    assert batch.dtype == torch.int64 and batch.shape[:2] == (2, 2)
    assert batch.shape[2] == texts.lengths.max()
    assert batch[0, 1].sum() == texts.lengths[0] and batch[1, 1].sum() == texts.lengths[1]
    assert (batch[0, 0, texts.lengths[0]:] == texts.pad_id).all()


def test_long_texts_are_truncated_to_max_length():
    tokenizer, _ = text_input_spec("all-MiniLM-L6-v2")
    texts = as_text_set(["word " * 500], tokenizer, 16)
    assert texts.lengths.tolist() == [16]


def test_inference_batches_cover_every_row_once_longest_first(spec):
    rng = np.random.default_rng(0)
    texts = as_text_set([" ".join(["w"] * int(n)) for n in rng.integers(1, 30, size=23)], *spec)
    seen = []
    widths = []
    for positions, batch in texts.inference_batches(5, np.arange(3, 23)):
        seen.extend(np.asarray(positions).tolist())
        widths.append(batch.shape[2])
    assert sorted(seen) == list(range(20))
    assert widths == sorted(widths, reverse=True)


def test_subset_keeps_tokens_and_texts(spec):
    texts = as_text_set(["a", "b c", "d e f"], *spec)
    part = texts.subset([2, 0])
    assert part.texts == ["d e f", "a"] and part.lengths.tolist() == [texts.lengths[2], texts.lengths[0]]
    assert isinstance(part, TextSet)
