"""The babysitting protocol as a tool: `diagnose(recipe)` → findings with prescriptions.

See `trainwell.diagnostics.doctor.run` for the checklist and each check's module for its rule.
"""
from trainwell.diagnostics.doctor.config import DoctorConfig
from trainwell.diagnostics.doctor.run import DoctorResult, diagnose

__all__ = ["DoctorConfig", "DoctorResult", "diagnose"]
