"""Command-line arguments: outputs that cannot be written, outputs that would overwrite a run, and
numbers that are negative, NaN or huge."""
from __future__ import annotations

import pytest
from trainwell_faults_harness import cli, ok, read_only, refused, tree

# every command that writes a folder: argv with OUT for the output folder
FOLDER_OUTPUTS = {
    "train": lambda r, run, d, out: ["train", "--recipe", r, "--out", out, "--quiet", "--no-report"],
    "search": lambda r, run, d, out: ["search", "--recipe", r, "--out", out, "--trials", "1", "--steps", "2", "--quiet",
                                      "--no-report"],
    "ensemble": lambda r, run, d, out: ["ensemble", "--recipe", r, "--members", "2", "--set", "train.steps=2",
                                        "--out", out, "--quiet"],
    "finetune": lambda r, run, d, out: ["finetune", "--from", run, "--recipe", r, "--head-steps", "2", "--out", out,
                                        "--quiet"],
    "evaluate": lambda r, run, d, out: ["evaluate", run, "--data", d, "--out", out],
    "lr-find": lambda r, run, d, out: ["lr-find", "--recipe", r, "--steps", "5", "--out", out],
}
# commands that write one file: argv with OUT for the file
FILE_OUTPUTS = {
    "predict": lambda r, run, d, out: ["predict", run, "--input", d, "--out", out],
    "init-stats": lambda r, run, d, out: ["init-stats", "--depth", "2", "--width", "8", "--batch", "16", "--json", out],
    "gradcheck": lambda r, run, d, out: ["gradcheck", "--recipe", r, "--json", out],
}


@pytest.mark.parametrize("where", ["is_a_file", "below_a_file", "inside_read_only", "read_only_itself"])
@pytest.mark.parametrize("command", sorted(FOLDER_OUTPUTS))
def test_bad_output_folder(command, where, recipe, finished_run, blobs, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    snapshot = tree(finished_run)

    def run(out):
        return cli(*FOLDER_OUTPUTS[command](recipe, finished_run, blobs, out))

    if where == "is_a_file":
        refused(run(afile), str(afile))
    elif where == "below_a_file":
        refused(run(afile / "below"), str(afile))
    else:
        with read_only(tmp_path / "ro") as ro:
            out = ro / "new" if where == "inside_read_only" else ro
            refused(run(out), str(ro))
    assert afile.read_text() == "mine\n" and tree(finished_run) == snapshot


@pytest.mark.parametrize("where", ["below_a_file", "inside_read_only", "is_a_folder"])
@pytest.mark.parametrize("command", sorted(FILE_OUTPUTS))
def test_bad_output_file(command, where, recipe, finished_run, blobs, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine\n")

    def run(out):
        return cli(*FILE_OUTPUTS[command](recipe, finished_run, blobs, out))

    if where == "below_a_file":
        refused(run(afile / "out.json"), str(afile))
    elif where == "is_a_folder":
        (tmp_path / "folder").mkdir()
        refused(run(tmp_path / "folder"), str(tmp_path / "folder"))
    else:
        with read_only(tmp_path / "ro") as ro:
            refused(run(ro / "out.json"), str(ro))
    assert afile.read_text() == "mine\n"


def test_bad_report_of_a_read_only_run(copy_run):
    run = copy_run()
    with read_only(run):
        refused(cli("report", run), str(run))


@pytest.mark.parametrize("command", ["finetune", "ensemble"])
def test_fault_output_into_an_existing_run_is_refused(command, recipe, finished_run, blobs, copy_run):
    """finetune --out / ensemble --out naming a training run would replace its config.json, final.pt
    or report.html: refused, the run untouched."""
    target = copy_run("target")
    before = tree(target)
    refused(cli(*FOLDER_OUTPUTS[command](recipe, finished_run, blobs, target)), str(target), "holds a run")
    assert tree(target) == before


# ------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("argv,named", [
    (["--members", "0"], "members"),
    (["--members", "-3"], "members"),
    (["--members", "100000000000"], "members"),
    (["--method", "ema", "--decay", "nan"], "decay"),
    (["--method", "ema", "--decay", "1.5"], "decay"),
    (["--method", "swa", "--swa-start", "2"], "start"),
    (["--method", "snapshot", "--cycles", "-1"], "cycles"),
    (["--method", "snapshot", "--cycles", "0"], "cycles"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_ensemble_numbers(argv, named, recipe, tmp_path):
    res = cli("ensemble", "--recipe", recipe, "--set", "train.steps=2", *argv, "--out", tmp_path / "e", "--quiet")
    refused(res, named)


@pytest.mark.parametrize("argv,named", [
    (["--trials", "0"], "trials"),
    (["--trials", "-3"], "trials"),
    (["--trials", "100000000000"], "trials"),
    (["--steps", "-3"], "steps"),
    (["--steps", "100000000000"], "steps"),
    (["--workers", "0"], "--workers"),
    (["--batch", "0"], "--batch"),
    (["--top-k", "-1", "--strategy", "coarse-to-fine"], "top_k"),
    (["--search-seed", "-1"], "--search-seed"),
    (["--search-seed", str(2**70)], "--search-seed"),
    (["--stages", "0x5"], "stages"),
    (["--stages", "axb"], "stages"),
], ids=lambda v: "_".join(v)[:40] if isinstance(v, list) else None)
def test_bad_search_numbers(argv, named, recipe, tmp_path):
    res = cli("search", "--recipe", recipe, *argv, "--out", tmp_path / "s", "--quiet", "--no-report")
    refused(res, named)
    assert not (tmp_path / "s" / "trials").exists()


@pytest.mark.parametrize("argv,named", [
    (["--std", "nan"], "std"),
    (["--std", "-1"], "std"),
    (["--std", "inf"], "std"),
    (["--depth", "-2"], "depth"),
    (["--depth", "100000000000"], "depth"),
    (["--width", "100000000000"], "width"),
    (["--batch", "1"], "batch"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_init_stats_numbers(argv, named):
    refused(cli("init-stats", "--depth", "2", "--width", "8", *argv), named)


@pytest.mark.parametrize("argv,named", [
    (["--eps", "nan"], "--eps"),
    (["--batch", "-1"], "--batch"),
    (["--per-tensor", "0"], "--per-tensor"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_gradcheck_numbers(argv, named, recipe):
    refused(cli("gradcheck", "--recipe", recipe, *argv), named)


@pytest.mark.parametrize("argv,named", [
    (["--start-lr", "nan"], "--start-lr"),
    (["--steps", "-4"], "--steps"),
    (["--start-lr", "1", "--end-lr", "0.1"], "--end-lr"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_lr_find_numbers(argv, named, recipe, tmp_path):
    refused(cli("lr-find", "--recipe", recipe, *argv, "--out", tmp_path / "lr"), named)


@pytest.mark.parametrize("argv,named", [
    (["--lr-factor", "nan"], "lr-factor"),
    (["--lr-factor", "-1"], "lr-factor"),
    (["--head-steps", "-1"], "head"),
    (["--finetune-steps", "100000000000"], "finetune"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_bad_finetune_numbers(argv, named, recipe, finished_run, tmp_path):
    res = cli("finetune", "--from", finished_run, "--recipe", recipe, *argv, "--out", tmp_path / "f", "--quiet")
    refused(res, named)
    assert not (tmp_path / "f").exists()


def test_bad_command_line_typo_is_argparse_exit_2(recipe):
    res = cli("train", "--recipe", recipe, "--steps", "3")  # train has no --steps (it is train.steps)
    assert res.code == 2 and "unrecognized arguments: --steps" in res.err and "Traceback" not in res.err
    ok(cli("train", "--help"))
