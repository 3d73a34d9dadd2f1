"""sktransfer on a Dask cluster: grid search equal to local, extraction equal to in-memory, worker setup."""

import json
import os
import re
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedClassifier, PretrainedFeatureExtractor
import sktransfer.dask as skdask

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

FAST = dict(backbone="timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0, batch_size=16,
            layer=None, augment=None, early_stopping=None, tta=0, validation_fraction=None, verbose=0,
            random_state=0, input_shape=(8, 8))


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dask")


@pytest.fixture(scope="module")
def client(scratch_dir):
    """Two single-threaded worker processes, all their files in a temporary folder."""
    with dask.config.set({"temporary-directory": str(scratch_dir)}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      local_directory=str(scratch_dir)) as cluster:
            with distributed.Client(cluster) as c:
                yield c


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:160] / 16.0, y[:160]


@pytest.fixture
def one_thread():
    """Local fits with one torch thread, as on the workers: same thread count, same floats."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_grid_search_over_finetuning_equals_the_local_run(client, digits, one_thread, scratch_dir, monkeypatch):
    monkeypatch.chdir(scratch_dir)
    before = set(os.listdir(os.path.dirname(os.path.dirname(__file__))))
    X, y = digits
    grid = {"trainable_blocks": [0, "all"], "lr": [1e-2, 1e-3]}
    local = GridSearchCV(FineTunedClassifier(**FAST), grid, cv=2).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(FineTunedClassifier(**FAST), grid, cv=2, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    # Both workers took part, and nothing was written beside the project.
    assert set(os.listdir(os.path.dirname(os.path.dirname(__file__)))) == before


def test_grid_search_over_a_feature_pipeline_equals_the_local_run(client, digits, one_thread):
    X, y = digits
    pipe = make_pipeline(PretrainedFeatureExtractor(image_size=32, input_shape=(8, 8), verbose=0),
                         LogisticRegression(max_iter=500))
    grid = {"pretrainedfeatureextractor__layer": [None, [3, 4, 5]], "logisticregression__C": [0.1, 1.0]}
    local = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_


def _forget_extractors():
    """Runs on a worker: forget the extractors it unpickled, and how often it did."""
    worker_state = __import__("sktransfer.dask").dask
    worker_state._WORKER_EXTRACTORS.clear()
    worker_state._LOADS.clear()


def test_extraction_of_a_dask_array_equals_in_memory_and_loads_once_per_worker(client, digits, one_thread):
    X, _ = digits
    fx = PretrainedFeatureExtractor(image_size=32, verbose=0).fit(X[:1].reshape(1, 8, 8))
    images = X.reshape(-1, 8, 8)
    expected = fx.transform(images)
    client.run(_forget_extractors)  # the cluster is the module's: earlier tests may have loaded extractors
    features = skdask.extract_features(fx, da.from_array(images, chunks=(20, 4, 8)))
    assert features.shape == expected.shape and features.chunks[0] == (20,) * 8
    np.testing.assert_allclose(features.compute(), expected, rtol=1e-5, atol=1e-5)
    loads = client.run(lambda: sum(__import__("sktransfer.dask").dask._LOADS.values()))
    assert all(n <= 1 for n in loads.values()) and sum(loads.values()) >= 1, loads  # not once per chunk (8)
    # Flat rows with the extractor's input_shape, and blocks larger than chunk_size.
    flat = PretrainedFeatureExtractor(image_size=32, input_shape=(8, 8), verbose=0).fit(X[:1])
    out = skdask.extract_features(flat, da.from_array(X, chunks=(160, 64)), chunk_size=50)
    assert out.chunks[0] == (50, 50, 50, 10)
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-5, atol=1e-5)


def test_extraction_of_paths_from_a_list_and_a_bag(client, digits, tmp_path, one_thread):
    X, _ = digits
    paths = []
    for i, image in enumerate(X[:30].reshape(-1, 8, 8)):
        path = tmp_path / f"{i:02d}.png"
        Image.fromarray(np.rint(image * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    fx = PretrainedFeatureExtractor(image_size=32, verbose=0).fit(paths[:1])
    expected = fx.transform(paths)
    from_list = skdask.extract_features(fx, paths, chunk_size=8)
    assert from_list.chunks[0] == (8, 8, 8, 6)
    np.testing.assert_allclose(from_list.compute(), expected, rtol=1e-5, atol=1e-5)
    from_bag = skdask.extract_features(fx, db.from_sequence(paths, npartitions=3))
    np.testing.assert_allclose(from_bag.compute(), expected, rtol=1e-5, atol=1e-5)
    # A pandas Series whose index does not start at 0 (a filtered DataFrame's column): rows by position.
    series = pd.Series(paths, index=np.arange(100, 130)[::-1])
    from_series = skdask.extract_features(fx, series, chunk_size=8)
    np.testing.assert_allclose(from_series.compute(), expected, rtol=1e-5, atol=1e-5)


def test_shared_memory_cache_is_filled_by_the_workers(client, digits, tmp_path):
    X, _ = digits
    cache = tmp_path / "cache"
    fx = PretrainedFeatureExtractor(image_size=32, memory=str(cache), verbose=0).fit(X[:1].reshape(1, 8, 8))
    images = X.reshape(-1, 8, 8)
    first = skdask.extract_features(fx, da.from_array(images, chunks=(40, 8, 8))).compute()
    assert len(list(cache.rglob("output.pkl"))) == 4  # one cached result per chunk, written by the workers
    np.testing.assert_allclose(skdask.extract_features(fx, da.from_array(images, chunks=(40, 8, 8))).compute(),
                               first)


def test_configure_workers_gives_each_worker_its_share_of_cores(client):
    cores = client.run(skdask.usable_cores)
    settings = skdask.configure_workers(client)
    assert set(settings) == set(cores)
    for address, setting in settings.items():
        assert setting["torch_threads"] == max(1, cores[address] // 2)  # two workers, one task slot each
        assert setting["gpu"] is None  # no GPU on the test machines
    assert {s["torch_threads"] for s in skdask.configure_workers(client, n_threads=2).values()} == {2}
    skdask.configure_workers(client)  # back to the default for the other tests


@pytest.mark.parametrize("kwargs, match", [({"n_threads": 0}, "n_threads must be a positive int"),
                                           ({"n_threads": 1.5}, "n_threads must be a positive int"),
                                           ({"gpus": "all"}, "gpus must be 'auto' or None")])
def test_configure_workers_rejects_bad_settings(client, kwargs, match):
    with pytest.raises(ValueError, match=match):
        skdask.configure_workers(client, **kwargs)


@pytest.mark.parametrize("client", [None, "tcp://127.0.0.1:8786", object()])
def test_configure_workers_without_a_client_names_what_to_pass(client):
    with pytest.raises(TypeError, match=r"client must be a distributed\.Client.*got (NoneType|str|object).*Client\("):
        skdask.configure_workers(client)


def test_a_scheduler_that_is_no_address_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Could not reach a Dask scheduler at 'bogus'.*pass 'local'"):
        with skdask.dask_backend("bogus"):
            pass


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5", " "])
def test_an_invalid_torch_threads_variable_names_itself_and_the_fix(value, monkeypatch):
    from sktransfer._device import TORCH_THREADS_ENV, resolve_device

    threads = torch.get_num_threads()
    monkeypatch.setenv(TORCH_THREADS_ENV, value)
    if not value.strip():  # empty: as if unset
        assert resolve_device("cpu") == torch.device("cpu") and torch.get_num_threads() == threads
        return
    with pytest.raises(ValueError, match=rf"{TORCH_THREADS_ENV}='{value}' is not a positive int.*unset it"):
        resolve_device("cpu")
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("value", ["gpu0", "-1", "1.5"])
def test_an_invalid_cuda_device_variable_names_itself_and_the_fix(value, monkeypatch):
    from sktransfer._device import CUDA_DEVICE_ENV, resolve_device

    # The variable is read only when CUDA is there: pretend it is (no CUDA call is made before the check).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(CUDA_DEVICE_ENV, value)
    with pytest.raises(ValueError, match=rf"{CUDA_DEVICE_ENV}='{re.escape(value)}' is not a GPU index.*unset it"):
        resolve_device("auto")


def test_extract_features_rejects_bad_input(digits):
    X, _ = digits
    fx = PretrainedFeatureExtractor(image_size=32, input_shape=(8, 8), verbose=0).fit(X[:1])
    with pytest.raises(TypeError, match="For images already in memory, call extractor.transform"):
        skdask.extract_features(fx, X)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        skdask.extract_features(fx, da.from_array(X), chunk_size=0)
    unknown = da.from_array(X, chunks=(40, 64))[da.from_array(X[:, 0] >= 0, chunks=40)]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        skdask.extract_features(fx, unknown)
    with pytest.raises(Exception, match="not fitted"):
        skdask.extract_features(PretrainedFeatureExtractor(), da.from_array(X))


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r'pip install "sktransfer\[dask\]"'):
        skdask.extract_features(None, [])


def test_benchmark_runs_its_searches_on_the_cluster(client, tmp_path, capsys):
    """--dask ADDRESS: same table as the local run, the cluster named in the log and results."""
    from sktransfer.benchmark import run_benchmark
    from sktransfer.benchmark.__main__ import main as benchmark_main

    args = ["digits", "--methods", "pixels", "hog", "--labels-per-class", "5", "--seeds", "1", "--no-plot"]
    assert benchmark_main(args + ["--output-dir", str(tmp_path / "local")]) == 0
    local = json.loads((tmp_path / "local" / "digits_results.json").read_text())
    address = client.scheduler.address
    assert benchmark_main(args + ["--output-dir", str(tmp_path / "dask"), "--dask", address]) == 0
    remote = json.loads((tmp_path / "dask" / "digits_results.json").read_text())
    assert f"dask: 2 workers at {address}" in capsys.readouterr().err
    assert remote["config"]["scheduler"] == address and remote["config"]["n_jobs"] == -1
    assert [r["accuracy"] for r in remote["runs"]] == [r["accuracy"] for r in local["runs"]]
    assert [r["chosen"] for r in remote["runs"]] == [r["chosen"] for r in local["runs"]]
    with pytest.raises(ValueError, match="Could not reach a Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_benchmark("digits", methods=["pixels"], labels_per_class=[5], n_seeds=1, output_dir=None,
                      verbose=0, scheduler="tcp://127.0.0.1:9")


def test_worker_thread_setting_applies_in_the_calling_thread(monkeypatch):
    """configure_workers' setting reaches the estimators through resolve_device, in whatever thread runs them."""
    import threading

    from sktransfer._device import TORCH_THREADS_ENV, resolve_device

    threads = torch.get_num_threads()
    seen = []

    def task():
        resolve_device("cpu")
        seen.append(torch.get_num_threads())

    target = 2 if threads == 1 else 1  # differs from the current setting, so the test can fail
    monkeypatch.setenv(TORCH_THREADS_ENV, str(target))
    try:
        worker = threading.Thread(target=task)
        worker.start()
        worker.join()
        resolve_device("auto")
        assert seen == [target] and torch.get_num_threads() == target
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_workers_get_relaxed_malloc_thresholds(client):
    """The nanny's MALLOC_TRIM_THRESHOLD_ is set on the workers; configure_workers relaxes it through mallopt."""
    assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {"65536"}
    assert all(client.run(skdask._relax_malloc).values())


def test_auto_device_follows_the_workers_gpu(monkeypatch):
    """configure_workers' GPU choice: device='auto' resolves to that worker's cuda:k (CUDA faked here)."""
    from sktransfer._device import CUDA_DEVICE_ENV, resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setenv(CUDA_DEVICE_ENV, "5")
    assert resolve_device("auto") == torch.device("cuda:1")  # rank 5 on a 4-GPU machine
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit device is left as given
