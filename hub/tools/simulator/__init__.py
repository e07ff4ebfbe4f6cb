"""Simulated CARICC traffic: realistic agencies, crossings, routes, seizures and alerts (``hub simulate``).

:func:`generate` is pure (seed → list of (agency code, JSON report body)) for tests and benchmarks.
"""

from hub.tools.simulator.generator import SimEvent, generate, generate_events, iter_events
from hub.tools.simulator.world import AGENCIES, CROSSINGS, SimAgency

__all__ = ["AGENCIES", "CROSSINGS", "SimAgency", "SimEvent", "generate", "generate_events", "iter_events"]
