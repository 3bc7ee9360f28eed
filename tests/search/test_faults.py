"""Security and faults: masked storage passwords, trial folders from integers only, a torn journal,
unusable --out folders, an out-of-range --search-seed."""
from __future__ import annotations

import argparse
import logging
import re

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from trainwell.commands import search
from trainwell.errors import UserError
from trainwell.search import plan_from_table, run_search
from trainwell.search.redact import Redactor, mask_url, masked_errors, redacted_logs
from trainwell.search.runner import SearchResult
from trainwell.search.storage import default_storage, open_storage
from trainwell.search.synthetic import SyntheticObjective
from trainwell.toml_text import write_toml
from trainwell.search.worker import trial_dir

SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}
URL = "postgresql+psycopg://tw:S3cret%40pw@127.0.0.1:1/optuna"
SECRETS = ("S3cret%40pw", "S3cret@pw")


def _run(argv):
    p = argparse.ArgumentParser()
    search.add_args(p)
    return search.run(p.parse_args(argv))


def test_redactor_hand_table():
    r = Redactor(URL)
    assert mask_url(URL) == "postgresql+psycopg://tw:***@127.0.0.1:1/optuna"
    assert r("connect to postgresql://other:xyz@h/db failed") == "connect to postgresql://other:***@h/db failed"
    assert r('password "S3cret@pw" rejected (S3cret%40pw)') == 'password "***" rejected (***)'
    assert mask_url("sqlite:///search.db") == "sqlite:///search.db" and mask_url("postgresql://tw@h/db") == "postgresql://tw@h/db"
    assert Redactor("postgresql://tw:ab@h/db")("ab cab") == "ab cab"  # a 2-character password is masked in URLs only


def test_storage_errors_never_show_the_password():
    with pytest.raises(UserError) as err:  # no server listens on port 1
        open_storage(URL)
    assert "tw:***@127.0.0.1" in str(err.value) and not any(s in str(err.value) for s in SECRETS)
    with pytest.raises(UserError) as err:  # not a URL SQLAlchemy can parse
        open_storage("postgresql+psycopg//tw:S3cret%40pw@host/db")
    assert not any(s in str(err.value) for s in SECRETS)
    with pytest.raises(UserError, match=r"trainwell\[postgres\]") as err:  # the driver named is not installed
        open_storage("postgresql+psycopg2://tw:S3cret%40pw@host/db")
    assert not any(s in str(err.value) for s in SECRETS)
    # an error from deep inside (SQLAlchemy/Optuna) that echoes the URL becomes a masked UserError, unchained
    with pytest.raises(UserError) as err, masked_errors(Redactor(URL)):
        raise RuntimeError(f"(psycopg.OperationalError) cannot connect to {URL}")
    assert not any(s in str(err.value) for s in SECRETS) and err.value.__cause__ is None and err.value.__suppress_context__


def test_logs_of_optuna_and_sqlalchemy_are_masked():
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    # the handler sits on the emitting logger itself: MLflow, once imported, stops
    # "sqlalchemy.engine" from propagating to its parents
    logger = logging.getLogger("sqlalchemy.engine")
    handler = Keep()
    logger.addHandler(handler)
    try:
        with redacted_logs(Redactor(URL)):
            logger.warning("engine for %s", URL)
    finally:
        logger.removeHandler(handler)
    assert seen and "tw:***@" in seen[0] and not any(s in seen[0] for s in SECRETS)


def test_no_file_or_output_of_a_search_holds_the_password(tiny_raw, tmp_path, capsys):
    """`finish` writes trials.jsonl, search.json, best.toml and search.html: a storage URL and an error
    that echoes it are masked in every one of them (and in what it prints)."""
    from rich.console import Console

    plan = plan_from_table({"trials": 2, "steps": 5, "space": SPACE})
    records = [
        {"number": 0, "stage": 1, "trial": "s1-000", "state": "COMPLETE", "value": 0.8, "params": {"optim.lr": 1e-3, "optim.weight_decay": 1e-5},
         "steps": 5, "steps_run": 5, "steps_budget": 5, "engine": "trainer"},
        {"number": 1, "stage": 1, "trial": "s1-001", "state": "FAIL", "value": None, "params": {"optim.lr": 1e-2, "optim.weight_decay": 1e-5},
         "error": f"OperationalError: lost connection to {URL} (password S3cret@pw)"},
    ]
    result = SearchResult(records, [plan.space], 1.0, mask_url(URL), "tiny", plan)
    out = tmp_path / "out"
    out.mkdir()
    others = {"grid (other)": [dict(records[0], error=URL)]}
    assert search.finish(out, tiny_raw, "tiny", plan, result, Console(stderr=True), report=True, storage=URL, others=others) == 0
    printed = capsys.readouterr()
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".toml", ".html")]
    assert {p.name for p in files} >= {"trials.jsonl", "search.json", "best.toml", "search.html"}
    for p in files:
        text = p.read_text()
        assert not any(s in text for s in SECRETS), p
    assert "tw:***@" in (out / "trials.jsonl").read_text()
    assert not any(s in printed.out + printed.err for s in SECRETS)


def test_trial_folders_come_from_integers_only(tmp_path):
    assert trial_dir(tmp_path, 2, 7) == tmp_path / "trials" / "stage2-0007"
    for bad in ("../../x", -1, True, 3.0, None):
        with pytest.raises(ValueError):
            trial_dir(tmp_path, 1, bad)


def test_a_crafted_study_cannot_write_outside_out_or_inject_parameters(tmp_path):
    """A study prepared in a shared storage by someone else: a WAITING trial whose user attributes carry
    a path (the old code made the trial's folder from its 'slot' string) and whose learning rate lies
    outside the space. Every folder written is trials/stage1-NNNN inside --out; the bad value fails
    its trial instead of being trained."""
    out = tmp_path / "a" / "out"
    plan = plan_from_table({"trials": 3, "steps": 5, "space": SPACE})
    store = open_storage(default_storage(out))
    study = optuna.create_study(storage=store, study_name="search", direction="maximize")
    study.set_user_attr("trainwell_plan", plan.identity())
    wide = {"optim.lr": FloatDistribution(1e-4, 1e7, log=True), "optim.weight_decay": FloatDistribution(1e-6, 1e-2, log=True)}
    study.add_trial(create_trial(state=TrialState.WAITING, params={"optim.lr": 1e6, "optim.weight_decay": 1e-4},
                                 distributions=wide, user_attrs={"slot": "../../../escaped", "stage": 1}))
    before = set(tmp_path.rglob("*"))
    result = run_search(plan, SyntheticObjective(), search_dir=out)
    made = set(tmp_path.rglob("*")) - before
    assert all(out in p.parents or p == out for p in made), sorted(map(str, made))
    dirs = {p.name for p in (out / "trials").iterdir()}
    assert all(re.fullmatch(r"stage1-\d{4}", d) for d in dirs) and dirs
    bad = next(r for r in result.records if r["number"] == 0)
    assert bad["state"] == "FAIL" and "outside the space" in bad["error"]
    assert sorted(r["state"] for r in result.records) == ["COMPLETE", "COMPLETE", "FAIL"]


def test_a_torn_journal_line_does_not_break_the_study(tmp_path):
    """A kill mid-write leaves a last line without its newline. Optuna 5.1's journal backend reads past
    it, but the next append is glued onto it and the study can no longer be read; `open_journal` cuts
    the fragment off (under the journal lock) and the search resumes."""
    plan = plan_from_table({"trials": 4, "steps": 5, "space": SPACE})
    run_search(plan_from_table({"trials": 2, "steps": 5, "space": SPACE}), SyntheticObjective(), search_dir=tmp_path / "ref")
    first = run_search(plan, SyntheticObjective(), search_dir=tmp_path / "s")
    journal = tmp_path / "s" / "study.journal"
    size = journal.stat().st_size
    with open(journal, "ab") as f:
        f.write(b'{"op_code": 5, "worker_id": "x", "trial_id": 3, "sta')
    more = plan_from_table({"trials": 4, "steps": 5, "space": SPACE})
    again = run_search(more, SyntheticObjective(), search_dir=tmp_path / "s")
    assert [r["value"] for r in again.records] == [r["value"] for r in first.records]
    assert journal.read_bytes().endswith(b"\n") and journal.stat().st_size >= size
    # the repaired journal stays readable after further writes
    study = optuna.load_study(study_name="search", storage=open_storage(default_storage(tmp_path / "s")))
    study.set_user_attr("note", "written after the repair")
    assert optuna.load_study(study_name="search", storage=open_storage(default_storage(tmp_path / "s"))).user_attrs["note"]


def test_optuna_journal_without_the_repair_breaks_after_a_torn_line(tmp_path):
    """Why `repair_tail` exists (Optuna 5.1): the first write after a torn line is glued onto it and
    lost, and from the second one on every read of the study raises."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = str(tmp_path / "j.journal")
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(path)), study_name="s")
    study.enqueue_trial({"x": 1.0})
    with open(path, "ab") as f:
        f.write(b'{"op_code": 4, "wor')
    again = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    again.set_user_attr("a", 1)
    with pytest.raises(ValueError):  # json.JSONDecodeError
        again.set_user_attr("b", 2)


def test_unusable_out_folders_and_a_huge_seed_are_clear_errors(tiny_raw, tmp_path, read_only):
    recipe = write_toml(tmp_path / "tiny.toml", tiny_raw)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(UserError, match="is a file|parents is a file"):
        _run(["--recipe", str(recipe), "--out", str(afile), "--quiet"])
    with pytest.raises(UserError, match="parents is a file"):
        _run(["--recipe", str(recipe), "--out", str(afile / "below"), "--quiet"])
    with read_only(tmp_path / "ro") as ro:
        with pytest.raises(UserError, match="not writable|permission denied"):
            _run(["--recipe", str(recipe), "--out", str(ro / "s"), "--quiet"])
        with pytest.raises(UserError, match="not writable|permission denied"):
            _run(["--recipe", str(recipe), "--out", str(ro), "--quiet"])
    with pytest.raises(UserError, match=r"--search-seed must be an integer in \[0, 2\*\*32 - 1\]"):
        _run(["--recipe", str(recipe), "--out", str(tmp_path / "s"), "--search-seed", str(2**70), "--quiet"])
    with pytest.raises(UserError, match=r"seed must be an integer in \[0, 4294967295\]"):
        plan_from_table({"seed": 2**70, "space": SPACE})
