"""The babysitting protocol as a tool: `diagnose(recipe)` → findings with prescriptions.

See `trainwell.doctor.run` for the checklist and each check's module for its rule.
"""
from trainwell.doctor.config import DoctorConfig
from trainwell.doctor.run import DoctorResult, diagnose

__all__ = ["DoctorConfig", "DoctorResult", "diagnose"]
