"""The CLI: fast help (no torch imported), --version, python -m trainwell, every command listed."""
import subprocess
import sys

import pytest

from trainwell import __version__
from trainwell.cli import COMMANDS, command_help, main


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys, contextlib, io\nfrom trainwell.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try: main({args!r})\n    except SystemExit: pass\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["--version"]])
def test_help_and_version_import_no_torch(args):
    assert "torch" not in _modules_after(args)


def test_every_command_has_its_modules_help_without_importing_it():
    import importlib

    for name, path in COMMANDS.items():
        assert command_help(path) == importlib.import_module(path).HELP, name


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"trainwell {__version__}"
    out = subprocess.run([sys.executable, "-m", "trainwell", "--help"], capture_output=True, text=True, check=True).stdout
    assert all(name in out for name in COMMANDS)
