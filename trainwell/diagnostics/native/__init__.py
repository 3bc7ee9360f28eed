"""Optional compiled kernels (C, built on first use with the machine's compiler; see `build`).

Everything here has a pure-torch fallback: `stats_kernels()` is None where no library can be built."""
from trainwell.diagnostics.native.kernels import StatsKernels, stats_kernels, why_unavailable

__all__ = ["StatsKernels", "stats_kernels", "why_unavailable"]
