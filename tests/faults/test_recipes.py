"""Recipes (TOML) and --set: damaged files, wrong values, and parts named by module paths."""
from __future__ import annotations

import os

import pytest
from trainwell_faults_harness import cli, refused, tree

# ------------------------------------------------------------------------------------ damaged files
DAMAGED = {
    "torn": lambda text: text[: text.index("widths") + 12],            # cut inside a value, as a killed editor leaves it
    "truncated": lambda text: text[: len(text) // 2],
    "binary": lambda text: os.urandom(600),
    "nul_bytes": lambda text: text.encode() + b"\0" * 64,
    "foreign_json": lambda text: '{"name": "tiny", "optim": {"lr": 0.01}}',
    "foreign_python": lambda text: "import os\nos.system('echo hi')\n",
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_bad_recipe_file_damaged(kind, recipe, tmp_path):
    made = DAMAGED[kind](recipe.read_text())
    path = tmp_path / "r.toml"
    path.write_bytes(made if isinstance(made, bytes) else made.encode())
    res = cli("train", "--recipe", path, "--out", tmp_path / "out", "--quiet", "--no-report")
    refused(res, str(path))
    assert not (tmp_path / "out").exists()


def test_bad_recipe_file_foreign_npz(blobs, tmp_path):
    path = tmp_path / "r.toml"
    path.write_bytes(blobs.read_bytes())
    refused(cli("train", "--recipe", path, "--quiet", "--no-report"), str(path))


@pytest.mark.parametrize("text", ["", "\n\n   \n", "# only a comment\n"], ids=["empty", "blank", "comment"])
def test_bad_recipe_file_empty(text, tmp_path, monkeypatch):
    """An empty recipe is a torn or unsaved file, not a wish for every default (it used to train MNIST-1D)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "r.toml"
    path.write_text(text)
    refused(cli("train", "--recipe", path, "--quiet", "--no-report"), str(path), "empty")
    assert not (tmp_path / "runs").exists()


def test_bad_recipe_missing_names_the_packaged_ones(tmp_path):
    refused(cli("train", "--recipe", "defautl", "--quiet"), "defautl", 'did you mean "default"')


def test_bad_recipe_is_a_folder(tmp_path):
    refused(cli("train", "--recipe", tmp_path, "--quiet"), str(tmp_path), "folder")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_attack_recipe_is_a_device_or_fifo(special, tmp_path):
    """A recipe path that never ends (/dev/zero) or blocks (a FIFO) is refused before it is read."""
    path = special
    if special == "fifo":
        path = tmp_path / "r.toml"
        os.mkfifo(path)
    refused(cli("train", "--recipe", path, "--quiet"), str(path), "not a regular file")


# ------------------------------------------------------------------------------------ keys and values
@pytest.mark.parametrize("assignment,named", [
    ("optim.lrr=0.1", ("optim.lrr", 'did you mean "lr"')),
    ("trian.steps=3", ("trian", 'did you mean "train"')),
    ("train.stpes=3", ("train.stpes", 'did you mean "steps"')),
    ("data.val_fractoin=0.2", ("val_fractoin", 'did you mean "val_fraction"')),
    ("model.widhts=[4]", ("widhts", "widths")),
    ("model.activation=relux", ("relux", 'did you mean "relu"')),
    ("schedule.name=cosin", ("cosin", "cosine")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_unknown_key_gets_a_suggestion(assignment, named, recipe, tmp_path):
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--out", tmp_path / "o", "--quiet", "--no-report"), *named)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("assignment,named", [
    ("optim.lr=nan", "optim.lr"),
    ("optim.lr=inf", "lr"),
    ("optim.lr=-1", "optim.lr"),
    ("optim.lr=0", "optim.lr"),
    ('optim.lr="fast"', "optim.lr"),
    ("train.steps=-5", "train.steps"),
    ("train.steps=0", "train.steps"),
    ("train.steps=1e30", "train.steps"),
    ("train.steps=[1, 2]", "train.steps"),
    ("train.epochs=nan", "train.epochs"),
    ("train.batch_size=0", "train.batch_size"),
    ("data.val_fraction=1.5", "data.val_fraction"),
    ("data.val_fraction=nan", "data.val_fraction"),
    ("train.label_smoothing=1", "train.label_smoothing"),
    ("train.ema=nan", "train.ema"),
    ("seed=-1", "seed"),
    ("model.widths=[-3]", "model.widths"),
    ("model=3", "model"),
], ids=lambda v: v if "=" in v else None)
def test_bad_number_or_type(assignment, named, recipe, tmp_path):
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--out", tmp_path / "o", "--quiet", "--no-report"), named)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("seed", [str(2**70), "-1"])
def test_bad_seed_argument(seed, recipe, tmp_path):
    refused(cli("train", "--recipe", recipe, "--seed", seed, "--out", tmp_path / "o", "--quiet"), "seed")


@pytest.mark.parametrize("assignment", ["optim.lr", ".=3", "model.name.x=1"])
def test_bad_set_syntax(assignment, recipe):
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--quiet"), "--set")


@pytest.mark.parametrize("assignment", ["train.steps=99999999999999999999", "train.epochs=inf", "train.epochs=1e300"])
def test_bad_huge_run_length(assignment, recipe, tmp_path):
    """A run length no machine finishes is refused up front (it used to train forever, or overflow)."""
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--out", tmp_path / "o", "--quiet", "--no-report"),
            assignment.split("=")[0])


@pytest.mark.parametrize("assignment", ["model.widths=[100000000000]", "model.widths=[4000000, 4000000]"])
def test_bad_huge_model(assignment, recipe, tmp_path):
    """A model that cannot be allocated is a clear error naming [model], not an allocator traceback."""
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--out", tmp_path / "o", "--quiet", "--no-report"),
            "model")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------ parts by name
@pytest.mark.parametrize("assignment,named", [
    ('model.name="os.system"', "unknown model 'os.system'"),
    ('model.name="torch.nn.Linear"', "unknown model"),
    ('model.name="!!python/object/apply:os.system [\\"touch pwned\\"]"', "unknown model"),
    ('model.activation="builtins.eval"', "unknown activation"),
    ('model.init="os.remove"', "init"),
    ('optim.name="torch.optim.SGD"', "unknown optimizer"),
    ('schedule.name="subprocess.call"', "schedule"),
    ('train.loss="pickle.loads"', "loss"),
    ('augment.train=[{name="importlib.import_module"}]', "augment"),
    ('data.name="os.path"', "unknown data set"),
    ('data.preprocess=["shutil.rmtree"]', "preprocess"),
], ids=lambda v: v.split("=")[0] if "=" in v else None)
def test_attack_a_part_name_cannot_import_a_module(assignment, named, recipe, tmp_path, monkeypatch):
    """Recipes name parts through explicit registries: a module path is an unknown name, never imported."""
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    refused(cli("train", "--recipe", recipe, "--set", assignment, "--out", tmp_path / "o", "--quiet", "--no-report"), named)
    assert tree(tmp_path) == before and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name,folder", [("../../escape", "escape"), ("/etc/cron.d/x", "etc-cron.d-x"), ("..", "run"),
                                         ("a\\u0000b", "a-b")])
def test_attack_a_recipe_name_cannot_leave_the_runs_folder(name, folder, recipe, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = cli("train", "--recipe", recipe, "--set", f'name="{name}"', "--set", "train.steps=2", "--quiet", "--no-report")
    assert res.code == 0, str(res)
    made = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert all(work / "runs" in p.parents or p in (work, work / "runs") for p in made), made
    assert (work / "runs" / folder / "summary.json").exists()
