"""The doctor: names the real fault of a training setup — a recipe or any PyTorch model — and repairs it.

    import trainwell
    d = trainwell.doctor(model, train, val, loss=loss_fn, optimizer=opt)     # any nn.Module and data
    d = trainwell.doctor.diagnose(load_recipe("default"))                    # a recipe
    d.top, d.findings, d.to_json(), d.table(), d.html()

    trainwell doctor RECIPE | path/to/file.py:make [--quick] [--json F] [--fix]

`trainwell.doctor` is this package AND a function: calling the package runs `api.doctor` (the
module's class is a `ModuleType` subclass with `__call__`, the documented way to make a module
callable), so `trainwell.doctor(...)` and `trainwell.doctor.early.hopeless(...)` both work; the
package's own `doctor` attribute is the package itself (what `trainwell`'s lazy export returns).

Modules: `subject` (what is examined), `probe` (one pass seen from the weight layers), the checks
(`data_checks`, `model_checks`, `loss_checks`, `overfit`, `lr_check`, `activation_checks`,
`run_checks`, `compare`), `causes` (causal order), `run` (`diagnose`, `Diagnosis`), `fix` (`--fix`),
`early` (verdicts for pruning a search), `config` (every threshold).
"""
import sys
import types

from trainwell.doctor import early
from trainwell.doctor.api import doctor as _doctor
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.finding import Finding, Prescription
from trainwell.doctor.run import Diagnosis, diagnose

DoctorResult = Diagnosis  # the former name


class _CallableModule(types.ModuleType):
    """`trainwell.doctor(...)` calls `trainwell.doctor.api.doctor`."""

    def __call__(self, *args, **kwargs):
        return _doctor(*args, **kwargs)

    __call__.__doc__ = _doctor.__doc__


sys.modules[__name__].__class__ = _CallableModule
doctor = sys.modules[__name__]  # `from trainwell.doctor import doctor` and `trainwell.doctor` are this callable package

__all__ = ["Diagnosis", "DoctorConfig", "DoctorResult", "Finding", "Prescription", "diagnose", "doctor", "early"]
