"""Every container of images is read by position, whatever it is (issue 21).

pandas objects keep their index labels out of the way (rows by position,
never by label or column), every container of paths says which files it
holds, and buffers, single columns of paths and nullable pandas dtypes read
as what they hold.
"""

import os

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedClassifier, HOGTransformer, PretrainedFeatureExtractor
from sktransfer.images import as_image_set
from tiny import FAST

TINY_EXTRACTOR = dict(backbone="timm/test_resnet", weights=None, image_size=16, layer=None, verbose=0,
                      random_state=0)


@pytest.fixture()
def twenty_files(tmp_path, digits):
    """Twenty digit PNGs (two classes that differ), their pixels flattened, and labels."""
    X, y = digits
    keep = np.flatnonzero(y < 2)[:20]
    paths = []
    for i in keep:
        paths.append(str(tmp_path / f"d{i}.png"))
        Image.fromarray(np.rint(X[i].reshape(8, 8) * 255).astype(np.uint8)).save(paths[-1])
    flat = np.stack([np.asarray(Image.open(p), dtype=np.float64).ravel() / 255 for p in paths])
    return paths, flat, y[keep]


def _pipelines():
    return {
        "extractor": lambda **kw: make_pipeline(PretrainedFeatureExtractor(**TINY_EXTRACTOR, **kw),
                                                LogisticRegression()),
        "hog": lambda **kw: make_pipeline(HOGTransformer(image_size=16, **kw), LogisticRegression()),
    }


@pytest.mark.parametrize("name", ["extractor", "hog"])
def test_series_of_paths_with_a_label_index_in_cross_val_score(twenty_files, name):
    """Index labels 10..29: a row chosen by label would be a KeyError or the wrong image."""
    paths, _, y = twenty_files
    make = _pipelines()[name]
    series = pd.Series(paths, index=np.arange(10, 30))
    expected = cross_val_score(make(), paths, y, cv=KFold(4), error_score="raise")
    got = cross_val_score(make(), series, y, cv=KFold(4), error_score="raise")
    np.testing.assert_array_equal(got, expected)
    fitted = make().fit(series, y)
    np.testing.assert_array_equal(fitted.predict(series), make().fit(paths, y).predict(paths))


@pytest.mark.parametrize("name", ["extractor", "hog"])
def test_dataframe_of_pixels_with_a_shuffled_index_in_cross_val_score(twenty_files, name):
    """A DataFrame's rows, not its columns, are the images: the same scores as its array."""
    _, flat, y = twenty_files
    make = _pipelines()[name]
    frame = pd.DataFrame(flat, index=np.random.RandomState(0).permutation(20) + 7)
    expected = cross_val_score(make(input_shape=(8, 8)), flat, y, cv=KFold(4), error_score="raise")
    got = cross_val_score(make(input_shape=(8, 8)), frame, y, cv=KFold(4), error_score="raise")
    np.testing.assert_array_equal(got, expected)


def test_fine_tuned_classifier_reads_pandas_by_position(twenty_files):
    paths, flat, y = twenty_files
    series = pd.Series(paths, index=np.arange(100, 120))
    frame = pd.DataFrame(flat, index=np.random.RandomState(1).permutation(20))
    on_paths = cross_val_score(FineTunedClassifier(**{**FAST, "input_shape": None}), paths, y, cv=KFold(2),
                               error_score="raise")
    on_series = cross_val_score(FineTunedClassifier(**{**FAST, "input_shape": None}), series, y, cv=KFold(2),
                                error_score="raise")
    np.testing.assert_array_equal(on_series, on_paths)
    on_array = FineTunedClassifier(**FAST).fit(flat, y).predict_proba(flat)
    on_frame = FineTunedClassifier(**FAST).fit(frame, y)
    np.testing.assert_allclose(on_frame.predict_proba(frame), on_array, atol=1e-6)
    assert on_frame.n_features_in_ == 64  # a DataFrame has columns, as its array does


def test_dataframe_sets_and_checks_n_features_in(twenty_files):
    """scikit-learn's meaning: the columns of a 2-D X, a DataFrame's as an array's."""
    _, flat, _ = twenty_files
    fx = PretrainedFeatureExtractor(**TINY_EXTRACTOR, input_shape=(8, 8)).fit(pd.DataFrame(flat))
    assert fx.n_features_in_ == 64
    fx.set_params(input_shape=(4, 4))  # X's width now fits input_shape: n_features_in_ is what catches it
    with pytest.raises(ValueError, match=r"X has 16 features, but PretrainedFeatureExtractor is expecting 64"):
        fx.transform(pd.DataFrame(flat[:, :16]))


@pytest.mark.parametrize("make", [
    pytest.param(list, id="list"),
    pytest.param(tuple, id="tuple"),
    pytest.param(np.array, id="str-array"),
    pytest.param(lambda p: np.array(p, dtype=object), id="object-array"),
    pytest.param(lambda p: pd.Series(p, index=np.arange(len(p))[::-1] * 3), id="series-odd-index"),
    pytest.param(pd.Index, id="pandas-index"),
    pytest.param(lambda p: pd.Series(p, dtype="string"), id="series-string-dtype"),
    pytest.param(lambda p: pd.Series(p, dtype="category"), id="series-category"),
    pytest.param(lambda p: pd.DataFrame({"path": p}), id="one-column-dataframe"),
    pytest.param(lambda p: np.array(p)[:, None], id="one-column-array"),
])
def test_every_container_of_paths_names_its_files_in_order(image_files, make):
    paths, _ = image_files
    images = as_image_set(make(paths))
    assert images.kind == "paths" and images.paths == tuple(paths)
    assert images.subset([3, 1]).paths == (paths[3], paths[1])
    np.testing.assert_array_equal(images.load([2])[0, 0].numpy(), np.asarray(Image.open(paths[2])))


def test_nullable_pandas_numbers_are_read_as_numbers(digits):
    X = digits[0][:4]
    expected = as_image_set(X, input_shape=(8, 8)).load(range(4))
    as_float = pd.DataFrame(X).astype("Float32")
    torch.testing.assert_close(as_image_set(as_float, input_shape=(8, 8)).load(range(4)), expected)
    pixels = np.rint(X * 255).astype(np.uint8)
    as_int = pd.DataFrame(pixels).astype("Int64")
    torch.testing.assert_close(as_image_set(as_int, input_shape=(8, 8)).load(range(4)),
                               as_image_set(pixels, input_shape=(8, 8)).load(range(4)))
    holed = as_float.mask(np.eye(4, 64, dtype=bool))  # pd.NA in a nullable column: NaN, named as such
    with pytest.raises(ValueError, match=r"NaN or infinity.*nan_to_num"):
        as_image_set(holed, input_shape=(8, 8))


def test_buffers_are_read_as_arrays():
    X = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    torch.testing.assert_close(as_image_set(memoryview(X)).load([0, 1]), as_image_set(X).load([0, 1]))


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: the check must only look (os.stat)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"X\[0\]: '.*pipe' is a named pipe \(FIFO\), not a regular file"):
        as_image_set([str(fifo)])


def test_a_file_without_read_permission_is_named_with_the_fix(image_files, monkeypatch):
    """Not "re-save it in a format Pillow reads": the format is fine, the permission is not."""
    import sktransfer.images._files as files

    paths, _ = image_files
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: path != paths[1] and real_access(path, mode))
    with pytest.raises(ValueError, match=r"X\[1\]: '.*' cannot be read: permission denied.*chmod a\+r"):
        as_image_set(paths[:2])
    monkeypatch.setattr(os, "access", real_access)
    images = as_image_set(paths[:2])  # readable when checked, then not (the test runs as any user, root too)
    monkeypatch.setattr(files, "open_image", lambda *a: (_ for _ in ()).throw(PermissionError(13, "denied")))
    with pytest.raises(ValueError, match=r"permission denied.*chmod") as info:
        images.load([0])
    assert "Re-save" not in str(info.value)


def test_open_image_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    from sktransfer.images import open_image

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"Cannot open image file \(X\[4\]\): '.*pipe' is a named pipe \(FIFO\)"):
        open_image(fifo, " (X[4])")
