#!/usr/bin/env python3
"""Checks cache_view.py (no torch needed): the worked contents of cascade-spec.md §8, the contents the Java cache
exported (tools/device/cascade_golden.json: select=stride exactly, select=score one token in each slot group),
CascadeLayout against a fresh simulation at every length, and the view's structure. Run: python3 check_cache_view.py"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cache_view import CascadeLayout, kept_positions, simulate, view  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "device", "cascade_golden.json")


def cascades_of(sinks, width, cascades, n, eager=True):
    """Per cascade, oldest first, from cascade 0."""
    _, rings = simulate(sinks, width, cascades, n, eager)
    return [list(r) for r in rings]


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok   {what}")


def main():
    # cascade-spec.md §8, cases 4 and 9 (0-based positions, oldest first)
    check(cascades_of(0, 4, 2, 12, eager=False) == [[8, 9, 10, 11], [1, 3, 5, 7]], "§8.4 C=2 W=4 no eager")
    check(cascades_of(0, 4, 2, 12) == [[8, 9, 10, 11], [2, 3, 5, 7]], "§8.4 C=2 W=4 eager")
    check(cascades_of(4, 8, 1, 20) == [list(range(12, 20))], "§8.4 C=1 W=8 S=4")
    check(cascades_of(2, 4, 3, 40) == [[36, 37, 38, 39], [29, 31, 33, 35], [17, 21, 25, 27]], "§8.4 C=3 W=4 S=2")
    check(cascades_of(0, 4, 4, 100) == [[96, 97, 98, 99], [89, 91, 93, 95], [75, 79, 83, 87], [51, 59, 67, 71]],
          "§8.9 C=4 W=4 100 tokens")
    c = cascades_of(4, 8, 4, 38)
    check(c[0] == list(range(30, 38)) and c[1] == [21, 22, 23, 24, 25, 26, 27, 29] and c[2] == list(range(13, 21))
          and c[3] == list(range(5, 13)), "§8.9 C=4 W=8 S=4 38 tokens")
    check(cascades_of(4, 8, 4, 200) == [list(range(192, 200)), list(range(177, 192, 2)), list(range(147, 176, 4)),
                                        [91, 99, 107, 115, 123, 131, 139, 143]], "§8.9 C=4 W=8 S=4 200 tokens")
    _, kept = kept_positions(0, 64, 4, 100_000)
    check(100_000 - kept[0] in range(946, 954), "§8.10 horizon C=4 W=64 within [946, 953]")

    # the Java cache's export: select=stride exactly; select=score one token of each slot group, per KV head
    with open(GOLDEN) as f:
        golden = json.load(f)
    for g in golden:
        n = g["strides"][-1]["t0"] + g["strides"][-1]["n"]
        lay = CascadeLayout(g["sinks"], g["width"], g["cascades"], g["eager"])
        sinks, kept = lay.kept(n)
        groups = lay.groups(n)[len(sinks):]
        for head, (hs, hp) in enumerate(zip(g["heldSinks"], g["heldPositions"])):
            held = [p for cascade in reversed(hp) for p in cascade]
            check(hs == sinks, f"{g['name']} head {head}: sinks")
            if not g["scored"]:
                check(held == kept, f"{g['name']} head {head}: stride contents = Java's")
            else:
                inside = len(held) == len(groups) and all(lo <= p <= hi for p, (lo, hi) in zip(held, groups))
                check(inside, f"{g['name']} head {head}: each score-held token inside its slot group")

    # CascadeLayout (snapshots, period) against a fresh simulation
    for s, w, cs in ((4, 8, 4), (64, 16, 4), (2, 10, 3), (0, 12, 5), (64, 24, 4)):
        lay = CascadeLayout(s, w, cs)
        bad = [n for n in list(range(0, lay.settled + 300)) + [lay.settled * 3 + 5, 50_000 + 3]
               if lay.kept(n) != kept_positions(s, w, cs, n)]
        check(not bad, f"CascadeLayout S={s} W={w} C={cs}: every length equals a fresh simulation")

    # the view: one token a group, inside it, ascending; S + M rows once the cache is full; groups partition
    lay = CascadeLayout(64, 768, 4)
    rng = np.random.default_rng(1)
    for n in (100, 3136, 3137, 5000, 11_000, 40_001):
        groups = lay.groups(n)
        v = view(rng, lay, n)
        check(len(v) == min(n, 64 + 3072) and all(lo <= p <= hi for p, (lo, hi) in zip(v, groups))
              and v == sorted(v) and v[-1] == n - 1, f"view after {n} tokens: {len(v)} rows, one per group")
        contiguous = all(groups[i + 1][0] == groups[i][1] + 1 for i in range(64, len(groups) - 1))
        check(contiguous, f"groups after {n} tokens are contiguous from the oldest slot to the newest")
    g = lay.groups(40_001)
    sizes = [hi - lo + 1 for lo, hi in g[64:]]
    # cascade c: groups of 2^c, but its newest slot, whose group is still filling between two beats
    bands = [sizes[len(sizes) - 768 * (c + 1):len(sizes) - 768 * c] for c in range(4)]
    check(all(b[:-1] == [1 << c] * 767 and b[-1] <= 1 << c for c, b in enumerate(bands)),
          "steady state: groups of 1, 2, 4, 8 from the newest cascade back (the newest of each filling)")
    check(40_001 - g[64][0] <= 768 * 15 + 8, f"steady-state horizon {40_001 - g[64][0]} ≈ W·(2^C − 1) = 11,520")
    print("all checks passed")


if __name__ == "__main__":
    main()
