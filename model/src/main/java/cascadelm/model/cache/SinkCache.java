package cascadelm.model.cache;

/**
 * StreamingLLM (Xiao et al., 2023): the first {@code sinks} tokens forever, plus the most recent
 * {@code window} tokens in a ring buffer. Memory: sinks + window rows, whatever the document length.
 */
public class SinkCache extends BoundedCache {
    private final int window;
    private final int[] start;    // per layer: ring index of the oldest windowed row
    private final int[] stored;   // per layer: windowed rows held
    private final String description;

    public SinkCache(int layers, int kvHeads, int headDim, int sinks, int window, boolean originalPositions) {
        this(layers, kvHeads, headDim, sinks, window, originalPositions, RowStorage.HOST);
    }

    public SinkCache(int layers, int kvHeads, int headDim, int sinks, int window, boolean originalPositions,
                     RowStorage.Factory storage) {
        this(layers, kvHeads, headDim, sinks, window, originalPositions, "sink(S=" + sinks + ",M=" + window + ")", storage);
    }

    SinkCache(int layers, int kvHeads, int headDim, int sinks, int window, boolean originalPositions, String description,
              RowStorage.Factory storage) {
        super(layers, kvHeads, headDim, sinks, window, originalPositions, storage);
        if (window < 1) throw new IllegalArgumentException("window must be at least 1, got " + window);
        this.window = window;
        this.start = new int[layers];
        this.stored = new int[layers];
        this.description = description;
    }

    SinkCache(SinkCache o) {
        super(o);
        this.window = o.window;
        this.start = o.start.clone();
        this.stored = o.stored.clone();
        this.description = o.description;
    }

    @Override
    void insert(int layer, long t, int token, float[] scoreByHead) {
        int row;
        if (t < sinks) {
            row = (int) t;
        } else if (stored[layer] < window) {
            row = sinks + stored[layer]++;
        } else {
            row = sinks + start[layer];          // the oldest windowed token leaves
            start[layer] = (start[layer] + 1) % window;
        }
        for (int h = 0; h < kvHeads; h++) {
            store.put(layer, h, row, token, (int) t, 0f);
        }
    }

    @Override
    void rebuildOrder() {
        int held = (int) Math.min(seen, sinks);
        for (int i = 0; i < held; i++) order[i] = i;
        for (int i = 0; i < stored[0]; i++) order[held + i] = sinks + (start[0] + i) % window;
        rows = held + stored[0];
    }

    @Override
    public KvCache copy() {
        return new SinkCache(this);
    }

    @Override
    public String describe() {
        return description;
    }
}
