"""`trainwell train --nproc N`: what each process runs, and the mistakes caught before any starts."""
import pytest

from trainwell.cli import build_parser, main
from trainwell.commands.train import child_argv


def parse(argv):
    parser, _ = build_parser("train")  # only the chosen command's arguments are built
    return parser.parse_args(argv)


@pytest.mark.parametrize("argv", [
    ["train", "--nproc", "2"],
    ["train", "--recipe", "digits", "--set", "optim.lr=0.1", "--set", "train.steps=5", "--seed", "3",
     "--out", "runs/x", "--overwrite", "--no-report", "--quiet", "--nproc", "4"],
    ["train", "--resume", "runs/x", "--nproc", "2", "--debug"],
])
def test_each_process_runs_the_same_command_without_nproc(argv):
    args = parse(argv)
    again = parse(child_argv(args))
    assert again.nproc == 1
    assert {k: v for k, v in vars(again).items() if k != "nproc"} == {k: v for k, v in vars(args).items() if k != "nproc"}


def test_a_global_batch_that_does_not_split_is_refused_before_starting(capsys):
    assert main(["train", "--nproc", "3", "--set", "train.batch_size=128"]) == 2
    assert "train.batch_size = 128 is the global batch of all 3 processes together and must be divisible by 3" \
        in " ".join(capsys.readouterr().err.split())


def test_nproc_inside_a_launched_process_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--nproc", "2", "--set", "train.batch_size=64"]) == 2
    assert "started by torchrun" in capsys.readouterr().err
