"""What one KV head of a cascading cache holds after reading N tokens: the slot layout of cascade-spec.md §2,
for building training contexts shaped exactly like the default cache's view at question time.

§2 with select=stride (ties go to the newer token) keeps, in every slot, the newest of the tokens that competed
for it; the competitors of a slot are the tokens between the previous slot's token and its own, so each slot
stands for a contiguous group of positions: 1 token in the sinks and cascade 0, about 2^c in cascade c (fewer
right after eager fill). With select=score a slot keeps instead the competitor with the higher attention-score
EMA, a different one per layer and KV head; `view` models that pick as uniform within the group (the
measured share of a planted answer each head keeps is close to the uniform rate, bench/results/README.md).
Positions are re-assigned by age (§3, positions = cache): the k-th kept token gets position k, so a view is
fed to the model as a contiguous token sequence.
"""
from collections import deque

import numpy as np


def simulate(sinks, width, cascades, n_tokens, eager=True, state=None):
    """§2 with equal scores, token by token, from `state` (None: empty) to n_tokens tokens seen. The state is
    (t, [deque of positions per cascade]) and is returned, so that a caller can resume from a snapshot."""
    t, rings = state if state is not None else (0, [deque() for _ in range(cascades)])
    rings = [deque(r) for r in rings]
    full = sinks + width * cascades
    while t < n_tokens:
        if t >= sinks:
            n = t - sinks
            carry = t
            for c in range(cascades):
                ring = rings[c]
                if (eager and t < full) or n % (1 << c) == 0:
                    if len(ring) < width:
                        ring.append(carry)
                        break
                    out = ring.popleft()      # the oldest leaves, into the next cascade
                    ring.append(carry)
                    carry = out
                else:
                    if not ring:
                        ring.append(carry)
                    else:
                        ring[-1] = carry      # off-beat: the newer token wins a tie
                    break
        t += 1
    return t, rings


def kept_positions(sinks, width, cascades, n_tokens, eager=True):
    """Sink positions and the other kept positions in age order (oldest first), select=stride."""
    _, rings = simulate(sinks, width, cascades, n_tokens, eager)
    kept = [p for c in reversed(range(cascades)) for p in rings[c]]
    return list(range(min(sinks, n_tokens))), kept


class CascadeLayout:
    """Slot groups of a cascading cache (S sinks, C cascades of W slots, eager fill) after N tokens, for any N.

    Once eager fill has been flushed out, the layout relative to N repeats with period 2^(C-1) (the beat of the
    last cascade), so it is simulated once up to a settled length, with snapshots to resume from."""

    SNAP = 256

    def __init__(self, sinks, width, cascades, eager=True):
        self.S, self.W, self.C, self.eager = sinks, width, cascades, eager
        self.period = 1 << (cascades - 1)
        # eager fill ends at S + M; the entries it left are all gone after at most 2^C W more (measured: 12-13 W
        # for C = 4, 28 W for C = 5; check_cache_view.py checks the period)
        self.settled = sinks + width * cascades + width * (1 << cascades) + 2 * self.period
        self.snaps = []
        state = None
        for n in range(0, self.settled + self.SNAP, self.SNAP):
            state = simulate(sinks, width, cascades, n, eager, state)
            self.snaps.append((state[0], [tuple(r) for r in state[1]]))

    def kept(self, n_tokens):
        """(sinks, kept non-sink positions oldest first) after n_tokens tokens, select=stride."""
        shift = 0
        n = n_tokens
        if n >= self.settled:
            k = (n - self.settled) // self.period + 1
            shift = k * self.period
            n -= shift
        snap = self.snaps[n // self.SNAP]
        _, rings = simulate(self.S, self.W, self.C, n, self.eager, snap)
        kept = [p + shift for c in reversed(range(self.C)) for p in rings[c]]
        return list(range(min(self.S, n_tokens))), kept

    def groups(self, n_tokens):
        """Slot groups in age order: a list of (first, last) positions, inclusive; sinks are groups of one.
        A slot's group runs from just after the previous slot's token (select=stride keeps the newest) to its
        own token; the oldest slot's group is taken as long as the slot after it."""
        sinks, kept = self.kept(n_tokens)
        out = [(p, p) for p in sinks]
        for i, p in enumerate(kept):
            if i > 0:
                lo = kept[i - 1] + 1
            elif len(kept) > 1:
                lo = max(p - (kept[1] - p) + 1, len(sinks))
            else:
                lo = p
            out.append((lo, p))
        return out


def view(rng, layout, n_tokens, pick="uniform"):
    """The positions one KV head holds after n_tokens tokens: per slot group the newest token (pick="stride")
    or one drawn uniformly from the group (pick="uniform", the model of select=score). Ascending positions."""
    g = np.array(layout.groups(n_tokens), dtype=np.int64).reshape(-1, 2)
    if pick == "stride":
        return g[:, 1].tolist()
    return (g[:, 0] + (rng.random(len(g)) * (g[:, 1] - g[:, 0] + 1)).astype(np.int64)).tolist()
