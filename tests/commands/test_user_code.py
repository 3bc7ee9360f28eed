"""load_user_setup: a user's make() by path — every return form, one batch from each data form,
and a clear UserError for each way it can fail."""
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from trainwell.commands.user_code import first_batch, load_user_setup, split_spec
from trainwell.errors import UserError

HEADER = "import torch\nfrom torch import nn\n"


def write(tmp_path, body, name="model.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_split_spec():
    assert split_spec("a/b.py:build") == (__import__("pathlib").Path("a/b.py"), "build")
    assert split_spec("a/b.py")[1] == "make"
    assert split_spec("C:/x/b.py")[1] == "make"  # a drive letter is not a function name


def test_tuple_form_with_tensors(tmp_path):
    path = write(tmp_path, """
        def make():
            g = torch.Generator().manual_seed(0)
            x, y = torch.randn(20, 4, generator=g), torch.randint(0, 3, (20,), generator=g)
            return nn.Linear(4, 3), (x[:16], y[:16]), (x[16:], y[16:])
    """)
    setup = load_user_setup(f"{path}:make")
    assert isinstance(setup.model, nn.Linear) and setup.loss is None and setup.optimizer is None
    assert setup.source == f"{path}:make"
    x, y = first_batch(setup.train, 5)
    assert x.shape == (5, 4) and y.shape == (5,)


def test_dict_form_with_loss_optimizer_and_a_neighbour_import(tmp_path):
    (tmp_path / "nets.py").write_text("from torch import nn\ndef net():\n    return nn.Linear(2, 2)\n")
    path = write(tmp_path, """
        from nets import net
        def build():
            m = net()
            x = torch.zeros(6, 2)
            return {"model": m, "train": (x, torch.zeros(6, dtype=torch.long)), "val": None,
                    "loss": nn.CrossEntropyLoss(), "optimizer": torch.optim.SGD(m.parameters(), lr=0.1)}
    """)
    setup = load_user_setup(f"{path}:build")
    assert isinstance(setup.loss, nn.CrossEntropyLoss) and isinstance(setup.optimizer, torch.optim.SGD)
    assert setup.val is None


def test_first_batch_from_numpy_dataset_and_dataloader():
    x, y = np.arange(40, dtype=np.float32).reshape(10, 4), np.arange(10)
    bx, by = first_batch((x, y), 3)
    assert torch.equal(bx, torch.from_numpy(x[:3])) and by.tolist() == [0, 1, 2]
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    bx, by = first_batch(ds, 4)
    assert bx.shape == (4, 4) and by.tolist() == [0, 1, 2, 3]
    loader = torch.utils.data.DataLoader(ds, batch_size=6)
    bx, by = first_batch(loader, 4)
    assert bx.shape == (4, 4) and by.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "body,spec_suffix,words",
    [
        ("def make():\n    return 1\n", ":make", ["returned a value of type int", "(model, train, val)"]),
        ("def make():\n    return (nn.Linear(1, 1), None)\n", ":make", ["type tuple of length 2"]),
        ("def make():\n    return ('net', (torch.zeros(2), torch.zeros(2)), None)\n", ":make", ["model", "nn.Module", "str"]),
        ("def make():\n    return {'model': nn.Linear(1, 1), 'trian': 1}\n", ":make", ["trian", 'did you mean "train"']),
        ("def make():\n    return nn.Linear(1, 1), (torch.zeros(3), torch.zeros(2)), None\n", ":make", ["3 examples", "y has 2"]),
        ("def make():\n    return nn.Linear(1, 1), [1, 2, 3], None\n", ":make", ["train must be (x, y)", "list"]),
        ("def make():\n    raise ValueError('no data here')\n", ":make", ["make() raised ValueError: no data here"]),
        ("def maker():\n    pass\n", ":make", ["no function 'make'", 'did you mean "maker"']),
        ("import not_a_module_anywhere\n", ":make", ["importing", "ModuleNotFoundError", "not_a_module_anywhere"]),
        ("x = 1\n", ":x", ["is of type int, not a function"]),
    ],
)
def test_clear_errors(tmp_path, body, spec_suffix, words):
    path = write(tmp_path, body)
    with pytest.raises(UserError) as err:
        load_user_setup(f"{path}{spec_suffix}")
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_user_setup(f"{tmp_path / 'nope.py'}:make")
    with pytest.raises(UserError, match="a folder"):
        load_user_setup(f"{tmp_path}:make")
