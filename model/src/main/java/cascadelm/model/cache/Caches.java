package cascadelm.model.cache;

/** Builds the cache a {@link CacheSettings} asks for, for a model of the given shape. */
public final class Caches {
    private Caches() {
    }

    /**
     * @param expectedTokens a hint for the full cache's first allocation (prompt + tokens to generate)
     */
    public static KvCache create(CacheSettings s, int layers, int heads, int kvHeads, int headDim, int expectedTokens) {
        return create(s, layers, heads, kvHeads, headDim, expectedTokens, RowStorage.HOST);
    }

    /** As above, with the rows in the given storage (host arrays, or a device's memory). */
    public static KvCache create(CacheSettings s, int layers, int heads, int kvHeads, int headDim, int expectedTokens,
                                 RowStorage.Factory storage) {
        boolean original = s.positions() == CacheSettings.Positions.ORIGINAL;
        return switch (s.policy()) {
            case FULL -> new FullCache(layers, kvHeads, headDim, expectedTokens, storage);
            case WINDOW -> new SlidingWindowCache(layers, kvHeads, headDim, s.size(), original, storage);
            case SINK -> new SinkCache(layers, kvHeads, headDim, s.sinks(), s.size(), original, storage);
            case CASCADE -> new CascadingCache(layers, kvHeads, heads, headDim, s, storage);
        };
    }
}
