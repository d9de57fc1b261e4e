package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;

import java.util.Arrays;

/**
 * The cascading KV cache (Willette et al., arXiv 2406.17808), as cascade-spec.md states it: sinks, then
 * {@code C} cascades of {@code W} slots each. Cascade 0 takes every token; a token pushed out of cascade
 * c moves to cascade c+1, which takes a new slot once every 2^(c+1) tokens and, between its beats, keeps in
 * its newest slot whichever arriving token has the highest attention-score EMA (§2). Memory is fixed at
 * sinks + C·W rows per layer and KV head; the horizon grows as W·(2^C − 1).
 *
 * <p>Slot bookkeeping (how many a cascade holds, where its ring starts) does not depend on scores, so it
 * is kept once per layer; which token sits in a slot, and its score, is per KV head (§1, spec case 12).
 */
public final class CascadingCache extends BoundedCache {
    private final int cascades, width, heads;
    private final boolean eagerFill, selectByScore, maxReduction;
    private final double beta;
    private final int[][] start;    // [layer][cascade]: ring index of the oldest entry
    private final int[][] stored;   // [layer][cascade]: entries held
    private final int[] sinksHeld;  // [layer]

    // The entry travelling down the cascades while one token is inserted, per KV head: its rows are the
    // storage's carry; its position and score are here.
    private final int[] carryPosition;
    private final float[] carryScore;

    // The score request of the chunk in flight (one layer at a time).
    private AttentionScores pending;
    private int pendingLayer = -1, pendingRows, pendingChunk;

    public CascadingCache(int layers, int kvHeads, int heads, int headDim, CacheSettings s) {
        this(layers, kvHeads, heads, headDim, s, RowStorage.HOST);
    }

    public CascadingCache(int layers, int kvHeads, int heads, int headDim, CacheSettings s, RowStorage.Factory storage) {
        super(layers, kvHeads, headDim, s.sinks(), s.size(), s.positions() == CacheSettings.Positions.ORIGINAL, storage);
        if (s.size() % s.cascades() != 0) {
            throw new IllegalArgumentException("cache-size " + s.size() + " must be divisible by cascades " + s.cascades());
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not split into " + kvHeads + " KV heads");
        }
        this.cascades = s.cascades();
        this.width = s.size() / s.cascades();
        this.heads = heads;
        this.eagerFill = s.eagerFill();
        this.selectByScore = s.selection() == CacheSettings.Selection.SCORE;
        this.maxReduction = s.headReduction() == CacheSettings.HeadReduction.MAX;
        this.beta = s.emaBeta();
        this.start = new int[layers][cascades];
        this.stored = new int[layers][cascades];
        this.sinksHeld = new int[layers];
        this.carryPosition = new int[kvHeads];
        this.carryScore = new float[kvHeads];
    }

    private CascadingCache(CascadingCache o) {
        super(o);
        this.cascades = o.cascades;
        this.width = o.width;
        this.heads = o.heads;
        this.eagerFill = o.eagerFill;
        this.selectByScore = o.selectByScore;
        this.maxReduction = o.maxReduction;
        this.beta = o.beta;
        this.start = deepCopy(o.start);
        this.stored = deepCopy(o.stored);
        this.sinksHeld = o.sinksHeld.clone();
        this.carryPosition = new int[kvHeads];
        this.carryScore = new float[kvHeads];
    }

    /**
     * §4: for cached key j, Σ_i (1−β)·β^(q−1−i)·A[i,j]; for the chunk's own key j, Σ_{i≥j} (1−β)·β^(i−j)·A[i,j].
     */
    @Override
    public AttentionScores scoreRequest(int layer, int n) {
        if (!selectByScore) return null;
        float[] byQuery = new float[n];
        float[] byDistance = new float[n];
        for (int i = 0; i < n; i++) {
            byQuery[i] = (float) ((1 - beta) * Math.pow(beta, n - 1 - i));
            byDistance[i] = (float) ((1 - beta) * Math.pow(beta, i));
        }
        int keys = rows + n;
        float[] out = pending != null && pending.out().length >= heads * keys ? pending.out() : new float[heads * keys];
        Arrays.fill(out, 0, heads * keys, 0f);
        pending = new AttentionScores(byQuery, byDistance, out);
        pendingLayer = layer;
        pendingRows = rows;
        pendingChunk = n;
        return pending;
    }

    @Override
    public void append(int layer, int n) {
        boolean scored = pending != null && pendingLayer == layer;
        if (scored && (pendingChunk != n || pendingRows != rows)) {
            throw new IllegalStateException("scores were requested for another chunk");
        }
        float[] initial = new float[kvHeads];
        if (scored) decayAndAddCachedScores(layer, n);
        for (int j = 0; j < n; j++) {
            if (scored) {
                for (int g = 0; g < kvHeads; g++) initial[g] = reduced(g, rows + j, rows + n);
            }
            insert(layer, seen + j, j, initial);
        }
        if (scored) pendingLayer = -1;
    }

    /** score ← β^q · score + (reduced attention sum) for every cached non-sink row (§4). */
    private void decayAndAddCachedScores(int layer, int n) {
        float decay = (float) Math.pow(beta, n);
        for (int g = 0; g < kvHeads; g++) {
            float[] scores = store.scores[layer][g];
            for (int i = 0; i < rows; i++) {
                int row = order[i];
                if (row < sinks) continue;           // sinks have no score
                scores[row] = decay * scores[row] + reduced(g, i, rows + n);
            }
        }
    }

    /** The pending column sum of key {@code key} reduced over the query heads of KV head g. */
    private float reduced(int g, int key, int keys) {
        float[] out = pending.out();
        int group = heads / kvHeads;
        float acc = maxReduction ? Float.NEGATIVE_INFINITY : 0f;
        for (int h = g * group; h < (g + 1) * group; h++) {
            float s = out[h * keys + key];
            acc = maxReduction ? Math.max(acc, s) : acc + s;
        }
        return maxReduction ? acc : acc / group;
    }

    @Override
    void insert(int layer, long t, int token, float[] scoreByHead) {
        if (t < sinks) {
            for (int g = 0; g < kvHeads; g++) store.put(layer, g, (int) t, token, (int) t, 0f);
            sinksHeld[layer] = (int) t + 1;
            return;
        }
        long n = t - sinks;
        // Eager fill (§2): while the document still fits every slot, every step is every cascade's beat.
        boolean eager = eagerFill && t < (long) sinks + (long) cascades * width;
        for (int g = 0; g < kvHeads; g++) {
            store.data.carryFromChunk(layer, g, token);
            carryPosition[g] = (int) t;
            carryScore[g] = scoreByHead[g];
        }
        int[] held = stored[layer], first = start[layer];
        for (int c = 0; c < cascades; c++) {
            int base = sinks + c * width;
            boolean onBeat = eager || (n & ((1L << c) - 1)) == 0;   // n mod 2^c == 0
            if (onBeat) {
                if (held[c] < width) {
                    writeCarry(layer, base + held[c]++, false);
                    return;
                }
                // Full: the carry takes the oldest slot, and the oldest entry travels on to cascade c+1.
                writeCarry(layer, base + first[c], true);
                first[c] = (first[c] + 1) % width;
            } else {
                if (held[c] == 0) {
                    writeCarry(layer, base, false);
                    held[c] = 1;
                    return;
                }
                int newest = base + (held[c] < width ? held[c] - 1 : (first[c] - 1 + width) % width);
                for (int g = 0; g < kvHeads; g++) {
                    // Ties go to the newer token (§2), so equal scores give a strided subsample.
                    if (carryScore[g] >= store.scores[layer][g][newest]) writeOne(layer, g, newest);
                }
                return;
            }
        }
        // A carry leaving the last cascade is forgotten.
    }

    /** Puts the carry into {@code row} for every head; with {@code swap}, the row's old entry becomes the carry. */
    private void writeCarry(int layer, int row, boolean swap) {
        for (int g = 0; g < kvHeads; g++) {
            if (swap) {
                int position = store.positions[layer][g][row];
                float score = store.scores[layer][g][row];
                store.data.swapCarry(layer, g, row, carryPosition[g]);
                store.positions[layer][g][row] = carryPosition[g];
                store.scores[layer][g][row] = carryScore[g];
                carryPosition[g] = position;
                carryScore[g] = score;
            } else {
                writeOne(layer, g, row);
            }
        }
    }

    private void writeOne(int layer, int g, int row) {
        store.data.carryToRow(layer, g, row, carryPosition[g]);
        store.positions[layer][g][row] = carryPosition[g];
        store.scores[layer][g][row] = carryScore[g];
    }

    /** Attention order (§3): sinks, then the last (oldest) cascade down to cascade 0, each ring oldest first. */
    @Override
    void rebuildOrder() {
        int r = 0;
        for (int i = 0; i < sinksHeld[0]; i++) order[r++] = i;
        for (int c = cascades - 1; c >= 0; c--) {
            int base = sinks + c * width;
            for (int i = 0; i < stored[0][c]; i++) order[r++] = base + (start[0][c] + i) % width;
        }
        rows = r;
    }

    /** Document positions held by one cascade of one layer and KV head, oldest first (for tests and tools). */
    public int[] heldPositions(int layer, int kvHead, int cascade) {
        int base = sinks + cascade * width;
        int[] p = new int[stored[layer][cascade]];
        for (int i = 0; i < p.length; i++) {
            p[i] = store.positions[layer][kvHead][base + (start[layer][cascade] + i) % width];
        }
        return p;
    }

    /** Document positions of the sinks held by one layer and KV head. */
    public int[] sinkPositions(int layer, int kvHead) {
        return Arrays.copyOf(store.positions[layer][kvHead], sinksHeld[layer]);
    }

    /** Scores of one cascade's entries, oldest first, for one layer and KV head. */
    public float[] heldScores(int layer, int kvHead, int cascade) {
        int base = sinks + cascade * width;
        float[] s = new float[stored[layer][cascade]];
        for (int i = 0; i < s.length; i++) {
            s[i] = store.scores[layer][kvHead][base + (start[layer][cascade] + i) % width];
        }
        return s;
    }

    @Override
    public KvCache copy() {
        return new CascadingCache(this);
    }

    @Override
    public long bytes() {
        // Slots and bookkeeping; the score request buffer is scratch of the chunk in flight, not state.
        return super.bytes() + 2L * layers * cascades * Integer.BYTES + (long) layers * Integer.BYTES;
    }

    @Override
    public String describe() {
        return "cascade(S=" + sinks + ",C=" + cascades + ",W=" + width + (selectByScore ? ",score" : ",stride") + ")";
    }

    private static int[][] deepCopy(int[][] a) {
        int[][] c = new int[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i].clone();
        return c;
    }
}
