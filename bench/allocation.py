"""Allocation benchmark: one admission round of 100,000 applicants with up to 5 choices over 3,000
occurrences (time and peak memory), and the same instance without ties solved by the `matching`
package's HospitalResident (resident-optimal), side by side; where the package cannot do the full
size in reasonable time, the largest size it manages is reported.
Last line: one JSON object. --quick: 10,000 applicants over 300 occurrences.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.allocation.admission import Applicant, deferred_acceptance, run_round  # noqa: E402

sys.setrecursionlimit(20_000)  # lets the matching package go as far as it can


def instance(n_app: int, n_occ: int, seed: int = 1) -> tuple[list[Applicant], dict[str, int]]:
    rng = random.Random(seed)
    occs = [f"o{i}" for i in range(n_occ)]
    # Popularity is skewed, as it is in practice (care and welding are oversubscribed).
    weights = [1 / (1 + i) ** 0.6 for i in range(n_occ)]
    capacity = {o: rng.randint(8, 30) for o in occs}
    apps = []
    for i in range(n_app):
        k = rng.randint(1, 5)
        picks = list(dict.fromkeys(rng.choices(occs, weights=weights, k=k)))
        apps.append(Applicant(f"a{i}", rng.choice((1, 2, 3)), tuple(picks)))
    return apps, capacity


def strict(apps: list[Applicant]) -> tuple[list[Applicant], dict[str, tuple]]:
    order = list(range(len(apps)))
    random.Random(7).shuffle(order)
    ranked = [Applicant(a.id, order[i] + 1, a.choices) for i, a in enumerate(apps)]
    return ranked, {a.id: (a.group, 0.0) for a in ranked}


def with_matching(apps: list[Applicant], capacity: dict[str, int], rank: dict) -> tuple[dict, float]:
    from matching.games import HospitalResident

    wanted = {o for a in apps for o in a.choices}
    residents = {a.id: list(a.choices) for a in apps if a.choices}
    hospitals: dict[str, list[str]] = {o: [] for o in wanted}
    for a in sorted(apps, key=lambda a: rank[a.id]):
        for o in a.choices:
            hospitals[o].append(a.id)
    t0 = time.perf_counter()
    game = HospitalResident.create_from_dictionaries(residents, hospitals, {o: capacity[o] for o in wanted})
    matched = game.solve(optimal="resident")
    seconds = time.perf_counter() - t0
    out = {a.id: None for a in apps}
    for h, rs in matched.items():
        for r in rs:
            out[r.name] = h.name
    return out, seconds


def main(n_app: int, n_occ: int, matching_budget_s: float) -> dict:
    apps, capacity = instance(n_app, n_occ)
    t0 = time.perf_counter()
    result = run_round(apps, capacity, seed="bench")
    round_s = time.perf_counter() - t0
    # Memory in a second, traced run: tracing slows Python several times, so it is not timed.
    tracemalloc.start()
    run_round(apps, capacity, seed="bench")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    placed = sum(o is not None for o in result.assignment.values())
    print(f"round: {n_app} applicants, {n_occ} occurrences, {placed} placed in {round_s:.2f}s", file=sys.stderr)

    # Without ties: compare with the matching package, growing the size while it stays within budget.
    size, matching_s, same, m_size = max(1000, n_app // 100), 0.0, True, 0
    while size <= n_app:
        sub, sub_cap = instance(size, max(30, n_occ * size // n_app), seed=2)
        ranked, rank = strict(sub)
        ours = deferred_acceptance(ranked, sub_cap, rank)
        try:
            theirs, secs = with_matching(ranked, sub_cap, rank)
        except RecursionError:
            # The package deep-copies its linked player objects; past a few thousand it overflows the stack.
            print(f"matching: fails at {size} applicants (RecursionError in the package)", file=sys.stderr)
            break
        same = same and ours == theirs
        matching_s, m_size = secs, size
        print(f"matching: {size} applicants in {secs:.2f}s, same result: {ours == theirs}", file=sys.stderr)
        if secs * 4 > matching_budget_s or size == n_app:
            break
        size = min(n_app, size * 2)
    return {
        "applicants": n_app, "occurrences": n_occ, "round_s": round(round_s, 3),
        "peak_mb": round(peak / 2**20, 1), "matching_s": round(matching_s, 3), "matching_applicants": m_size,
        "same_as_matching": same, "placed": placed,
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        out = main(10_000, 300, matching_budget_s=20)
    else:
        out = main(100_000, 3_000, matching_budget_s=120)
    print(json.dumps(out))
