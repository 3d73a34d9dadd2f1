"""HOGTransformer, LBPTransformer and PixelTransformer: values, shapes, inputs and errors (sklearn checks:
tests/contracts/test_sklearn_checks.py, and LBPTransformer's here)."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import HOGTransformer, LBPTransformer, PixelTransformer

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def camera_patches():
    """Four 64x64 uint8 gray patches of skimage's camera photo."""
    from skimage import data

    cam = data.camera()
    return np.stack([cam[r : r + 64, c : c + 64] for r, c in [(100, 100), (200, 250), (300, 50), (40, 400)]])


@pytest.fixture(scope="module")
def cat_patch():
    """A 64x48 uint8 RGB patch of skimage's chelsea photo."""
    from skimage import data

    return data.chelsea()[80:144, 150:198]


# ----------------------------------------------------------------------------- HOG values


def test_hog_matches_skimage_on_a_real_photo(camera_patches):
    from skimage.feature import hog

    params = dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys")
    out = HOGTransformer(**params).fit_transform(camera_patches)
    for i, patch in enumerate(camera_patches):
        expected = hog(patch.astype(np.float32) / 255.0, feature_vector=True, **params)
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-6)
    assert out.shape == (4, 7 * 7 * 2 * 2 * 9) and out.dtype == np.float32
    assert not np.allclose(out[0], out[1])  # different patches, different features


def test_hog_rgb_uses_the_channel_axis_and_gray_averages(cat_patch):
    from skimage.feature import hog

    kw = dict(orientations=6, pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L1", transform_sqrt=True)
    rgb = HOGTransformer(**kw, color="rgb").fit_transform(cat_patch[None])[0]
    expected_rgb = hog(cat_patch.astype(np.float32) / 255.0, channel_axis=-1, **kw)
    np.testing.assert_allclose(rgb, expected_rgb, rtol=1e-5, atol=1e-6)
    gray = HOGTransformer(**kw, color="gray").fit_transform(cat_patch[None])[0]
    expected_gray = hog((cat_patch.astype(np.float32) / 255.0).mean(axis=2), **kw)
    np.testing.assert_allclose(gray, expected_gray, rtol=1e-4, atol=1e-5)
    assert rgb.shape == gray.shape and not np.allclose(rgb, gray)


def test_hog_resizes_to_image_size_and_keeps_the_feature_count(camera_patches):
    hog = HOGTransformer(pixels_per_cell=4, cells_per_block=2, image_size=16).fit(camera_patches)
    assert hog.image_size_ == (16, 16)
    assert hog.transform(camera_patches).shape == (4, 3 * 3 * 2 * 2 * 9)
    # images of another size are resized to the fitted size
    assert hog.transform(camera_patches[:, :40, :40]).shape == (4, 324)
    default = HOGTransformer().fit(camera_patches[:, :40, :24])
    assert default.image_size_ == (40, 24)


def test_hog_feature_names_follow_skimage_layout(camera_patches):
    hog = HOGTransformer(orientations=4, pixels_per_cell=16, cells_per_block=2).fit(camera_patches)
    names = hog.get_feature_names_out()
    assert len(names) == hog.transform(camera_patches).shape[1] == 3 * 3 * 2 * 2 * 4
    assert names[0] == "hog_b0_0_c0_0_o0" and names[-1] == "hog_b2_2_c1_1_o3"
    assert len(set(names)) == len(names)
    frame = clone(hog).set_output(transform="pandas").fit_transform(camera_patches)
    assert list(frame.columns) == list(names)


def test_hog_n_jobs_2_equals_n_jobs_1(digits):
    X = digits[0][:600]  # three chunks of 256, so the workers really split the work
    one = HOGTransformer(pixels_per_cell=4, image_size=16, input_shape=(8, 8), n_jobs=1).fit_transform(X)
    two = HOGTransformer(pixels_per_cell=4, image_size=16, input_shape=(8, 8), n_jobs=2).fit_transform(X)
    assert one.shape == (600, 324)
    np.testing.assert_array_equal(one, two)


def test_hog_too_small_images_name_the_fix(digits):
    X = digits[0][:5]
    with pytest.raises(ValueError, match=r"8x8 pixels.*cells_per_block=\(2, 2\).*image_size=16") as info:
        HOGTransformer(input_shape=(8, 8)).fit(X)
    assert "pixels_per_cell=(4, 4)" in str(info.value)
    # the suggested fixes work
    assert HOGTransformer(input_shape=(8, 8), image_size=16).fit_transform(X).shape[0] == 5
    assert HOGTransformer(input_shape=(8, 8), pixels_per_cell=(4, 4)).fit_transform(X).shape == (5, 36)


def test_hog_parameter_errors(digits):
    X = digits[0][:5]
    with pytest.raises(InvalidParameterError, match="orientations"):
        HOGTransformer(orientations=0, input_shape=(8, 8)).fit(X)
    with pytest.raises(InvalidParameterError, match="block_norm"):
        HOGTransformer(block_norm="L3", input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="pixels_per_cell must be a positive int or a pair"):
        HOGTransformer(pixels_per_cell=(4,), input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="image_size"):
        HOGTransformer(image_size=(16, 0), input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="input_shape"):
        HOGTransformer(image_size=16).fit(X)  # flattened images without input_shape
    with pytest.raises(NotFittedError):
        HOGTransformer().transform(X)
    fitted = HOGTransformer(image_size=16, input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="X has 16 features, but HOGTransformer is expecting 64"):
        fitted.transform(np.zeros((2, 16)))


def test_hog_in_a_grid_searched_pipeline_on_digits(digits):
    X, y = digits
    pipe = make_pipeline(HOGTransformer(image_size=16, input_shape=(8, 8)), SVC())
    grid = {"hogtransformer__pixels_per_cell": [4, 8], "hogtransformer__orientations": [6, 9], "svc__C": [10]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X[:400], y[:400])
    assert search.best_params_["hogtransformer__pixels_per_cell"] == 4  # 8-pixel cells leave one block
    assert search.score(X[400:], y[400:]) > 0.9


# ----------------------------------------------------------------------------- LBP values


def test_lbp_of_a_flat_image_is_all_one_pattern_and_its_border_is_left_out():
    # Every pixel of a flat image sees neighbours equal to it: the uniform pattern "all ones", code P. skimage
    # reads outside the image as 0, so the border pixels' codes differ: they must not be counted.
    flat = np.full((2, 20, 20), 128, dtype=np.uint8)
    for radius, n_points in [(1, 8), (2, 8), (3, 16)]:
        out = LBPTransformer(radius=radius, n_points=n_points).fit_transform(flat)
        expected = np.zeros(n_points + 2, np.float32)
        expected[n_points] = 1.0
        np.testing.assert_array_equal(out, np.stack([expected, expected]))


def test_lbp_matches_skimage_on_a_real_photo(camera_patches):
    from skimage.feature import local_binary_pattern

    out = LBPTransformer(radius=(1, 3), n_points=(8, 12)).fit_transform(camera_patches)
    assert out.shape == (4, 10 + 14) and out.dtype == np.float32
    for i, patch in enumerate(camera_patches):
        for (p, r), part in [((8, 1), out[i, :10]), ((12, 3), out[i, 10:])]:
            codes = local_binary_pattern(patch, p, r, "uniform")[3:-3, 3:-3].astype(int)  # the largest radius' border
            np.testing.assert_allclose(part, np.bincount(codes.ravel(), minlength=p + 2) / codes.size, atol=1e-7)
    assert not np.allclose(out[0], out[1])


def test_lbp_grid_cells_describe_their_own_part_of_the_image(camera_patches):
    image = camera_patches[0].copy()
    image[:, :32] = 77  # the left half flat: its cells hold only code 8 (cells do not straddle the middle)
    lbp = LBPTransformer(grid=(1, 2), image_size=(64, 66)).fit(image[None, :, :])
    assert lbp.image_size_ == (64, 66)  # resized: the flat half stays flat
    out = lbp.transform(np.pad(image, ((0, 0), (1, 1)), mode="edge")[None])[0].reshape(2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    assert out[0, 8] > 0.9 and out[1, 8] < 0.5  # the left cell nearly all flat; the textured right one is not
    names = lbp.get_feature_names_out()
    assert names[0] == "lbp_c0_0_p8_r1_b0" and names[-1] == "lbp_c0_1_p8_r1_b9" and len(names) == 20


def test_lbp_colour_is_made_gray_and_nri_uniform_keeps_rotation(cat_patch):
    from skimage.feature import local_binary_pattern

    gray = np.round(cat_patch.astype(np.float32).mean(axis=2)).astype(np.uint8)
    np.testing.assert_array_equal(LBPTransformer().fit_transform(cat_patch[None]),
                                  LBPTransformer().fit_transform(gray[None]))
    nri = LBPTransformer(method="nri_uniform").fit_transform(gray[None])[0]
    codes = local_binary_pattern(gray, 8, 1, "nri_uniform")[1:-1, 1:-1].astype(int)
    assert nri.shape == (8 * 7 + 3,)
    np.testing.assert_allclose(nri, np.bincount(codes.ravel(), minlength=59) / codes.size, atol=1e-7)
    # a quarter turn moves the non-rotation-invariant codes, not the uniform ones
    turned = np.rot90(gray).copy()
    assert not np.allclose(LBPTransformer(method="nri_uniform").fit_transform(turned[None])[0], nri)
    np.testing.assert_allclose(LBPTransformer().fit_transform(turned[None]), LBPTransformer().fit_transform(gray[None]),
                               atol=0.02)


def test_lbp_errors_name_the_fix(digits):
    X = digits[0][:5]
    with pytest.raises(ValueError, match=r"8x8 pixels keep 2x2 pixels.*radius 3.*grid=\(4, 4\).*image_size=10"):
        LBPTransformer(radius=3, grid=4, input_shape=(8, 8)).fit(X)
    assert LBPTransformer(radius=3, grid=4, input_shape=(8, 8), image_size=10).fit_transform(X).shape == (5, 160)
    with pytest.raises(ValueError, match=r"radius=\(1, 2\) and n_points=\(8,\).*radius=\(1, 2, 3\), n_points=8"):
        LBPTransformer(radius=(1, 2), n_points=(8,), input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="positive radii"):
        LBPTransformer(radius=(1, -2), input_shape=(8, 8)).fit(X)
    with pytest.raises(InvalidParameterError, match="method"):
        LBPTransformer(method="ror", input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="grid must be a positive int or a pair"):
        LBPTransformer(grid=(2, 0), input_shape=(8, 8)).fit(X)
    with pytest.raises(ValueError, match="n_jobs=0 is not a number of workers"):
        LBPTransformer(n_jobs=0, input_shape=(8, 8)).fit(X)
    with pytest.raises(NotFittedError):
        LBPTransformer().transform(X)


def test_lbp_n_jobs_2_equals_n_jobs_1_and_svm_separates_textures():
    from sktransfer.benchmark.photos import texture_crops

    X, y = texture_crops(100, "train", size=32, random_state=0)  # 300 crops: two chunks of 256
    one = LBPTransformer(radius=(1, 2), n_jobs=1).fit_transform(X)
    np.testing.assert_array_equal(LBPTransformer(radius=(1, 2), n_jobs=2).fit_transform(X), one)
    X_test, y_test = texture_crops(20, "test", size=32, random_state=1)
    clf = make_pipeline(LBPTransformer(radius=(1, 2)), SVC(C=10)).fit(X, y)
    assert clf.score(X_test, y_test) > 0.8  # three textures; chance is 1/3


def _tabular_failures(estimator):
    """The checks every image transformer is expected to fail, with their reasons (tabular data is not images)."""
    from contracts.test_sklearn_checks import EXPECTED_FAILED_CHECKS

    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks([LBPTransformer(image_size=8)], expected_failed_checks=_tabular_failures)
def test_lbp_sklearn_checks(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------------- pixels


def test_pixels_are_x_over_255_for_uint8(camera_patches):
    out = PixelTransformer().fit_transform(camera_patches)
    assert out.shape == (4, 64 * 64) and out.dtype == np.float32
    np.testing.assert_array_equal(out, camera_patches.reshape(4, -1).astype(np.float32) / 255.0)


def test_pixels_resize_color_and_names(cat_patch):
    X = np.stack([cat_patch, cat_patch[::-1]])
    gray = PixelTransformer(image_size=(8, 6)).fit(X)
    assert gray.transform(X).shape == (2, 48)
    assert gray.get_feature_names_out()[:2].tolist() == ["pixel_0_0", "pixel_0_1"]
    rgb = PixelTransformer(image_size=(8, 6), color="rgb").fit(X)
    out = rgb.transform(X)
    assert out.shape == (2, 8 * 6 * 3) and 0.0 <= out.min() and out.max() <= 1.0
    assert rgb.get_feature_names_out()[:3].tolist() == ["pixel_0_0_r", "pixel_0_0_g", "pixel_0_0_b"]
    # gray is the mean of the colour channels
    np.testing.assert_allclose(gray.transform(X), out.reshape(2, 48, 3).mean(axis=2), atol=1e-6)


def test_pixels_plus_svm_is_one_line(digits):
    X, y = digits
    clf = make_pipeline(PixelTransformer(input_shape=(8, 8)), SVC()).fit(X[:500], y[:500])
    assert clf.score(X[500:], y[500:]) > 0.93


# ----------------------------------------------------------------------------- both


@pytest.mark.parametrize(
    "make",
    [lambda: HOGTransformer(pixels_per_cell=4, image_size=16), lambda: PixelTransformer(image_size=12),
     lambda: LBPTransformer(grid=2)],
    ids=["hog", "pixels", "lbp"],
)
def test_every_input_form_gives_the_same_features(make, image_files):
    paths, _ = image_files
    arrays = np.stack([np.asarray(Image.open(p)) for p in paths])  # (12, 8, 8) uint8
    expected = make().fit_transform(arrays)
    np.testing.assert_array_equal(make().fit_transform(paths), expected)
    np.testing.assert_array_equal(make().fit_transform([Image.open(p) for p in paths]), expected)
    np.testing.assert_array_equal(make().fit_transform(torch.from_numpy(arrays)), expected)
    np.testing.assert_allclose(make().fit_transform(arrays / 255.0), expected, atol=1e-6)
    flat = make().set_params(input_shape=(8, 8))
    np.testing.assert_array_equal(flat.fit_transform(arrays.reshape(12, -1)), expected)
    assert flat.n_features_in_ == 64
    assert not hasattr(make().fit(arrays), "n_features_in_")


@pytest.mark.parametrize("make", [lambda: HOGTransformer(image_size=16), PixelTransformer,
                                  lambda: LBPTransformer(radius=(1, 2), grid=2)], ids=["hog", "pixels", "lbp"])
def test_pickle_order_idempotence_and_inputs_untouched(make, camera_patches):
    X = camera_patches.copy()
    est = make().fit(X)
    out = est.transform(X)
    np.testing.assert_array_equal(X, camera_patches)  # not modified
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), out)
    np.testing.assert_array_equal(est.transform(X[::-1]), out[::-1])  # order invariant
    np.testing.assert_array_equal(est.transform(X[1:3]), out[1:3])  # subset invariant
    np.testing.assert_array_equal(clone(est).fit(X).fit(X).transform(X), out)  # idempotent fit
    assert not hasattr(clone(est), "image_size_")


# ----------------------------------------------------------------------------- fitted state (issue 13)


@pytest.mark.parametrize(
    "make, changes",
    [
        pytest.param(lambda: HOGTransformer(pixels_per_cell=8, image_size=32),
                     [{"orientations": 4}, {"pixels_per_cell": 4}, {"cells_per_block": 1}, {"block_norm": "L1"},
                      {"transform_sqrt": True}, {"color": "rgb"}, {"image_size": 48}], id="hog"),
        pytest.param(lambda: PixelTransformer(image_size=8),
                     [{"color": "rgb"}, {"image_size": 12}, {"image_size": None}], id="pixels"),
        pytest.param(lambda: LBPTransformer(image_size=32),
                     [{"radius": 2}, {"n_points": 4}, {"method": "nri_uniform"}, {"grid": 2}, {"image_size": 24}],
                     id="lbp"),
    ],
)
def test_set_params_after_fit_changes_nothing_until_refit(make, changes, cat_patch):
    X = np.stack([cat_patch[:48, :48], cat_patch[8:56, :48]])
    est = make().fit(X)
    out, names = est.transform(X), est.get_feature_names_out()
    for change in changes:
        est.set_params(**change)
        np.testing.assert_array_equal(est.transform(X), out, err_msg=f"transform changed after set_params({change})")
        np.testing.assert_array_equal(est.get_feature_names_out(), names)
        refit = clone(est).fit(X)  # the new value takes effect at the next fit
        assert refit.transform(X).shape != out.shape or not np.array_equal(refit.transform(X), out), change
        est.set_params(**make().get_params())


@pytest.mark.parametrize("make", [lambda: HOGTransformer(pixels_per_cell=4, image_size=16), PixelTransformer,
                                  LBPTransformer], ids=["hog", "pixels", "lbp"])
def test_input_shape_is_fixed_by_fit(make, digits):
    X = digits[0][:5]
    est = make().set_params(input_shape=(8, 8)).fit(X)
    out = est.transform(X)
    est.set_params(input_shape=(4, 16))  # a different reading of the same columns
    np.testing.assert_array_equal(est.transform(X), out)
    assert est.input_shape_ == (8, 8)


def test_hog_n_jobs_is_read_at_transform_and_0_is_refused(camera_patches):
    hog = HOGTransformer(image_size=32).fit(camera_patches)
    out = hog.transform(camera_patches)
    np.testing.assert_array_equal(hog.set_params(n_jobs=2).transform(camera_patches), out)  # speed only
    with pytest.raises(ValueError, match=r"n_jobs=0 is not a number of workers.*-1 for all processors"):
        hog.set_params(n_jobs=0).transform(camera_patches)
    with pytest.raises(ValueError, match=r"n_jobs=0 is not a number of workers"):
        HOGTransformer(n_jobs=0).fit(camera_patches)  # in fit already, not only when joblib meets it


@pytest.mark.parametrize("make", [lambda: HOGTransformer(pixels_per_cell=4, image_size=16), PixelTransformer,
                                  LBPTransformer], ids=["hog", "pixels", "lbp"])
def test_a_failed_refit_keeps_the_previous_fit(make, digits):
    X = digits[0][:5]
    est = make().set_params(input_shape=(8, 8)).fit(X)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    out = est.transform(X)
    with pytest.raises(ValueError, match="X has 5 dimensions"):
        est.fit(np.zeros((2, 8, 8, 1, 1)))
    if isinstance(est, HOGTransformer):
        with pytest.raises(ValueError, match="hold only"):  # fails after reading X: nothing was stored yet
            est.set_params(image_size=4).fit(X)
    if isinstance(est, LBPTransformer):
        with pytest.raises(ValueError, match="too few for grid"):
            est.set_params(image_size=2).fit(X)
    assert {k: v for k, v in vars(est).items() if k.endswith("_")} == before
    np.testing.assert_array_equal(est.transform(X), out)


@pytest.mark.parametrize("make", [lambda: HOGTransformer(pixels_per_cell=4, image_size=16), PixelTransformer,
                                  LBPTransformer], ids=["hog", "pixels", "lbp"])
def test_nested_lists_give_the_features_of_their_array(make, camera_patches, digits):
    X = camera_patches[:, :16, :16]
    np.testing.assert_array_equal(make().fit_transform(X.tolist()), make().fit_transform(X))
    flat = digits[0][:4]
    est = make().set_params(input_shape=(8, 8)).fit(flat.tolist())
    assert est.n_features_in_ == 64  # as for the array it came from
    np.testing.assert_array_equal(est.transform(flat.tolist()), est.transform(flat))
