"""Tests for minigan/train/cli.py: defaults, help for every option, and the recipe's
paper values in the help."""
import pytest

from minigan import backend
from minigan.train.cli import build_parser, parse_args
from minigan.zoo import RECIPES

OPTIONS = ["--dataset", "--data-dir", "--image-size", "--device", "--autotune", "--steps",
           "--batch-size", "--lr-g", "--lr-d", "--n-critic", "--penalty-weight", "--latent-dim",
           "--width", "--seed", "--ema", "--out", "--resume", "--sample-every", "--eval-every",
           "--checkpoint-every", "--keep", "--quick", "--no-progress"]


def _options(parser):
    return {action.option_strings[-1]: action for action in parser._actions
            if action.option_strings and action.option_strings[-1] != "--help"}


def test_parser_has_every_option_with_help_text():
    parser = build_parser(RECIPES["wgan_gp"], "digits")
    options = _options(parser)
    assert sorted(options) == sorted(OPTIONS)
    assert all(len(action.help) > 10 for action in options.values())
    text = parser.format_help()
    assert all(option in text for option in OPTIONS)
    assert "(default: None)" not in text                # unset options say what they mean


def test_defaults_leave_the_recipe_and_the_loop_to_decide():
    args = parse_args(RECIPES["dcgan"], "ring8", [])
    assert args.dataset == "ring8" and args.device == "cpu" and args.seed == 0
    assert args.keep == 3 and not args.resume and not args.quick and not args.no_progress
    assert not args.autotune
    for name in ["steps", "batch_size", "lr_g", "lr_d", "n_critic", "penalty_weight",
                 "latent_dim", "width", "out", "sample_every", "eval_every",
                 "checkpoint_every", "data_dir", "image_size", "ema"]:
        assert getattr(args, name) is None, name


def test_options_parse_to_their_types(monkeypatch):
    monkeypatch.setattr(backend, "why_no_cuda", lambda: None)     # as where a GPU is usable
    args = parse_args(RECIPES["wgan"], "digits", [
        "--dataset", "grid25", "--steps", "7", "--batch-size", "8", "--lr-g", "1e-3",
        "--lr-d", "2e-3", "--n-critic", "2", "--penalty-weight", "0.5", "--latent-dim", "4",
        "--width", "8", "--seed", "3", "--ema", "0.99", "--out", "somewhere", "--resume",
        "--keep", "1",
        "--quick", "--no-progress", "--device", "cuda", "--autotune"])
    assert vars(args) == dict(
        dataset="grid25", data_dir=None, image_size=None, device="cuda", autotune=True,
        steps=7, batch_size=8,
        lr_g=1e-3, lr_d=2e-3, n_critic=2, penalty_weight=0.5, latent_dim=4, width=8, seed=3,
        ema=0.99, out="somewhere", resume=True, sample_every=None, eval_every=None,
        checkpoint_every=None, keep=1, quick=True, no_progress=True)


@pytest.mark.parametrize("name", RECIPES)
def test_help_names_the_paper_and_its_values(name):
    recipe = RECIPES[name]
    text = " ".join(build_parser(recipe, "digits").format_help().split())
    assert recipe.paper.split(",")[0] in text
    assert f"paper: {recipe.lr_g}" in text and f"paper: {recipe.lr_d}" in text
    assert f"(paper: {recipe.n_critic})" in text
    if recipe.penalty is None:
        assert "this recipe has no penalty" in text
    else:
        assert f"{recipe.penalty} penalty (paper: {recipe.penalty_weight}" in text
        if "penalty_weight" in recipe.toy_settings:
            assert f"{recipe.toy_settings['penalty_weight']} on 2-D points" in text


def test_bad_values_are_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit):
        parse_args(RECIPES["gan"], "ring8", ["--device", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(RECIPES["gan"], "ring8", ["--steps", "many"])
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_device_cuda_without_a_usable_gpu_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr(backend, "why_no_cuda", lambda: "CuPy is not installed")
    with pytest.raises(SystemExit) as exit_info:
        parse_args(RECIPES["wgan_gp"], "digits", ["--device", "cuda"])
    assert exit_info.value.code == 2
    assert "--device cuda: no GPU available: CuPy is not installed" in capsys.readouterr().err
    monkeypatch.setattr(backend, "why_no_cuda", lambda: None)
    assert parse_args(RECIPES["wgan_gp"], "digits", ["--device", "cuda"]).device == "cuda"
