"""`trainwell gradcheck`: a correct user model exits 0, a 1 %-wrong custom backward exits 1 and
is named in the JSON, a recipe model passes, bad input exits 2 (through the real CLI)."""
import json
import textwrap

from trainwell.cli import main

MODEL = """
import torch
from torch import nn


class LeakyBackward(torch.autograd.Function):
    # y = x; the backward multiplies by FACTOR (1.0 is correct)
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * FACTOR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 16)
        self.out = nn.Linear(16, 3)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return self.out(self.drop(LeakyBackward.apply(torch.tanh(self.hidden(x)))))


def make():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x, y = torch.randn(40, 6, generator=g), torch.randint(0, 3, (40,), generator=g)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=10)
    return {"model": Net(), "train": data, "val": None, "loss": nn.CrossEntropyLoss()}
"""


def user_file(tmp_path, factor):
    path = tmp_path / f"net_{str(factor).replace('.', '_')}.py"
    path.write_text(textwrap.dedent(MODEL).replace("FACTOR", repr(factor)))
    return path


def test_correct_user_model_passes(tmp_path, capsys):
    out = tmp_path / "gc.json"
    assert main(["gradcheck", "--model", f"{user_file(tmp_path, 1.0)}:make", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["ok"] and record["verdict"] == "good" and record["mode"] == "eval"  # dropout → eval
    assert [t["name"] for t in record["tensors"]] == ["input 0", "param hidden.weight", "param hidden.bias",
                                                     "param out.weight", "param out.bias"]
    assert record["batch"] == 8 and record["objective"] == "output"
    printed = " ".join(capsys.readouterr().out.split())
    assert "hidden.weight" in printed and "Overall: good" in printed


def test_one_percent_wrong_backward_exits_1_and_names_the_layers(tmp_path):
    out = tmp_path / "gc.json"
    code = main(["gradcheck", "--model", str(user_file(tmp_path, 1.01)), "--json", str(out), "--objective", "loss"])
    assert code == 1
    record = json.loads(out.read_text())
    verdicts = {t["name"]: t["verdict"] for t in record["tensors"]}
    # the wrong factor sits between tanh and the output layer: everything below it is 1 % off
    assert verdicts["param out.weight"] == "good" and verdicts["param out.bias"] == "good"
    assert verdicts["param hidden.weight"] == "suspicious" and verdicts["input 0"] == "suspicious"
    assert not record["ok"] and record["objective"] == "loss"


def test_recipe_model_passes(tmp_path):
    out = tmp_path / "gc.json"
    assert main(["gradcheck", "--recipe", "digits", "--per-tensor", "3", "--batch", "4", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["source"] == "recipe digits-cnn"
    assert record["ok"] and record["mode"] == "train" and record["has_kinks"]
    assert any("ReLU" in k for k in record["kinks"])


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["gradcheck", "--model", str(tmp_path / "missing.py")]) == 2
    assert "missing.py" in capsys.readouterr().err
    assert main(["gradcheck", "--model", str(user_file(tmp_path, 1.0)), "--recipe", "digits"]) == 2
    assert main(["gradcheck", "--model", str(user_file(tmp_path, 1.0)), "--eps", "0"]) == 2
    path = tmp_path / "noloss.py"
    path.write_text("import torch\ndef make():\n    return torch.nn.Linear(2, 2), (torch.zeros(4, 2), torch.zeros(4)), None\n")
    assert main(["gradcheck", "--model", str(path), "--objective", "loss"]) == 2
    assert "no loss" in capsys.readouterr().err
