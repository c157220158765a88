"""`geoint bench simulate`: how long generating a scenario takes, at several sizes.

A pilot run measures pings per vehicle; each size then gets the fleet that yields about that
many pings over the same days, and is timed as generation (plan, sample, ground truth) and
writing. Linear scaling shows as a steady pings-per-second figure across sizes.
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from geoint.ground import Ground
from geoint.settings import GeointSettings
from geoint.sim.scenery import Geography
from geoint.sim.simulate import SimulationOptions, simulate

Log = Callable[[str], None] | None
_PILOT_VEHICLES = 60


def run_simulate_benchmark(
    ground: Ground,
    geography: Geography,
    sizes: Sequence[int],
    days: int = 7,
    interval_s: int = 60,
    log: Log = None,
) -> dict:
    """Time the generator for scenarios of about `sizes` pings; return the figures."""
    say = log or (lambda _text: None)
    settings = GeointSettings()
    pilot = simulate(ground, geography, SimulationOptions(1, _PILOT_VEHICLES, days, interval_s))
    per_vehicle = pilot.pings.height / _PILOT_VEHICLES
    say(f"pilot: {per_vehicle:,.0f} pings per vehicle over {days} days at {interval_s} s")
    runs = []
    for target in sizes:
        vehicles = max(20, round(target / per_vehicle))
        say(f"{vehicles:,} vehicles x {days} days (about {target:,} pings)")
        options = SimulationOptions(2, vehicles, days, interval_s)
        started = time.perf_counter()
        scenario = simulate(ground, geography, options, settings)
        generate = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="geoint-bench-") as tmp:
            started = time.perf_counter()
            scenario.write(Path(tmp))
            write = time.perf_counter() - started
        pings = scenario.pings.height
        runs.append(
            {
                "target_pings": target,
                "vehicles": vehicles,
                "days": days,
                "pings": pings,
                "truth_events": scenario.truth.height,
                "generate_s": round(generate, 2),
                "stages_s": {k: round(v, 2) for k, v in scenario.seconds.items()},
                "write_s": round(write, 2),
                "pings_per_s": round(pings / generate),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
        say(f"  {pings:,} pings in {generate:.1f} s ({pings / generate:,.0f} pings/s)")
        del scenario
    return {"interval_s": interval_s, "runs": runs}
