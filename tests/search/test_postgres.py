"""A search shared through a real PostgreSQL server: two worker processes, one killed mid-trial, resumed.

A throwaway server is started for the module: ``initdb`` + ``pg_ctl`` in a temp folder, password
authentication (scram-sha-256), a free port, the unix socket in the temp folder, stopped in a
``finally``. Binaries: on PATH, under ``$PG_BIN``, else ``/usr/lib/postgresql/*/bin``. PostgreSQL
refuses to run as root, so under root they run as the user ``postgres`` (``runuser -u postgres --``)
with a temp folder it owns. Without binaries (or psycopg) the tests are skipped with that reason.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from trainwell.errors import UserError
from trainwell.search import plan_from_table, run_search
from trainwell.search.synthetic import SyntheticObjective
from trainwell.search.storage import open_storage
from trainwell.toml_text import write_toml

pytestmark = pytest.mark.slow
SPACE = {"optim.lr": {"dist": "loguniform", "low": 1e-4, "high": 1e-1},
         "optim.weight_decay": {"dist": "loguniform", "low": 1e-6, "high": 1e-2}}


def pg_bin() -> Path | None:
    """The folder with initdb and pg_ctl: $PG_BIN, PATH, or the newest /usr/lib/postgresql/*/bin."""
    candidates = [os.environ.get("PG_BIN")]
    found = shutil.which("initdb")
    candidates.append(str(Path(found).resolve().parent) if found else None)
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """(url, password) of a throwaway PostgreSQL server with password authentication."""
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on PATH, in $PG_BIN or in /usr/lib/postgresql/*/bin")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'trainwell[postgres]'")
    prefix: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="tw-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp)
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        if shutil.which("runuser") is None:
            shutil.rmtree(tmp)
            pytest.skip("running as root without runuser to start the server as 'postgres'")
        os.chown(tmp, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    password = "pw" + secrets.token_hex(8)
    pwfile = tmp / "pwfile"
    pwfile.write_text(password + "\n")
    if prefix:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    data, port = tmp / "data", free_port()
    started = False
    try:
        subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "tw", f"--pwfile={pwfile}",
                                 "-A", "scram-sha-256", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "server.log"), "-w", "-t", "60",
                                 "-o", f"-p {port} -k {tmp} -c listen_addresses='' -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
        started = True
        yield f"postgresql://tw:{password}@/postgres?host={tmp}&port={port}", password
    finally:
        if started:
            subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


WORKER = """
import os
import sys
from trainwell.search import plan_from_table, run_search
from trainwell.search.synthetic import SyntheticObjective
if __name__ == "__main__":
    plan = plan_from_table({"trials": 8, "steps": 10, "space": %r})
    result = run_search(plan, SyntheticObjective(sleep=float(sys.argv[2])), search_dir=sys.argv[1], storage=os.environ["TRAINWELL_STORAGE"],
                        study_name="shared", heartbeat_interval=1, grace_period=3)
    print("storage", result.storage)
"""


_STORES: dict[str, object] = {}


def _trials(url):
    store = _STORES.setdefault(url, open_storage(url, 1, 3))
    try:
        return optuna.load_study(study_name="shared", storage=store).get_trials(deepcopy=False)
    except KeyError:
        return []


def test_two_workers_one_killed_mid_trial_resume_without_loss_or_duplicates(postgres, tmp_path):
    url, password = postgres
    script = tmp_path / "worker.py"
    script.write_text(WORKER % (SPACE,))
    env = {**os.environ, "TRAINWELL_STORAGE": url}  # not on the command line, where `ps` would show the password
    a = subprocess.Popen([sys.executable, str(script), str(tmp_path / "a"), "0.6"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen([sys.executable, str(script), str(tmp_path / "b"), "0.6"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until worker a is in the middle of a trial, after some work
            trials = _trials(url)
            done = sum(t.state.name == "COMPLETE" for t in trials)
            a_running = [t for t in trials if t.state.name == "RUNNING" and (tmp_path / "a" / "trials").exists()
                         and (tmp_path / "a" / "trials" / f"stage1-{t.number:04d}").exists()]
            if done >= 3 and a_running:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the workers did not get going in time")
        a.send_signal(signal.SIGKILL)
        a.wait()
        out_b, err_b = b.communicate(timeout=180)
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert b.returncode == 0, err_b
    # the same search again (here in this process): resumes, finds the study complete
    plan = plan_from_table({"trials": 8, "steps": 10, "space": SPACE})
    again = run_search(plan, SyntheticObjective(), search_dir=tmp_path / "c", storage=url, study_name="shared",
                       heartbeat_interval=1, grace_period=3)
    assert len([r for r in again.records if r["state"] == "COMPLETE"]) == 8 and again.storage.startswith("postgresql://tw:***@")
    trials = _trials(url)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    points = [(t.params["optim.lr"], t.params["optim.weight_decay"]) for t in complete]
    assert len(complete) == 8 and len(set(points)) == 8  # nothing lost, nothing twice
    failed = [t for t in trials if t.state.name == "FAIL" and not t.user_attrs.get("surplus")]
    assert len(failed) >= 1  # a's trial, failed by the heartbeat ...
    for f in failed:  # ... and run again with the same parameters
        retry = [t for t in complete if t.system_attrs.get("failed_trial") == f.number]
        assert len(retry) == 1 and retry[0].params == f.params
    assert {t.state.name for t in trials} <= {"COMPLETE", "FAIL"}
    assert password not in out_b + err_b and "storage postgresql://tw:***@" in out_b


def test_the_command_masks_the_password_everywhere(postgres, tiny_raw, tmp_path, capsys):
    import argparse

    from trainwell.commands import search

    url, password = postgres
    recipe = write_toml(tmp_path / "tiny.toml", tiny_raw)
    out = tmp_path / "out"
    p = argparse.ArgumentParser()
    search.add_args(p)
    assert search.run(p.parse_args(["--recipe", str(recipe), "--out", str(out), "--storage", url, "--study-name", "cli",
                                    "--steps", "20", "--quiet"])) == 0
    printed = capsys.readouterr()
    assert password not in printed.out + printed.err
    files = [f for f in out.rglob("*") if f.is_file() and f.suffix in (".json", ".jsonl", ".toml", ".html", ".txt")]
    assert {"search.json", "trials.jsonl", "best.toml", "search.html"} <= {f.name for f in files}
    for f in files:
        assert password not in f.read_text(), f
    summary = json.loads((out / "search.json").read_text())
    assert summary["storage"].startswith("postgresql://tw:***@/postgres") and summary["complete"] == 4
    with pytest.raises(UserError) as err:  # a wrong password: the server's refusal, without the password
        open_storage(url.replace(password, "wrong" + password))
    assert password not in str(err.value) and "tw:***@" in str(err.value)
