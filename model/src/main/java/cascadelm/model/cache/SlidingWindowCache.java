package cascadelm.model.cache;

/** The most recent {@code window} tokens and nothing else: a sink cache without sinks. */
public final class SlidingWindowCache extends SinkCache {
    public SlidingWindowCache(int layers, int kvHeads, int headDim, int window, boolean originalPositions) {
        this(layers, kvHeads, headDim, window, originalPositions, RowStorage.HOST);
    }

    public SlidingWindowCache(int layers, int kvHeads, int headDim, int window, boolean originalPositions,
                              RowStorage.Factory storage) {
        super(layers, kvHeads, headDim, 0, window, originalPositions, "window(M=" + window + ")", storage);
    }
}
