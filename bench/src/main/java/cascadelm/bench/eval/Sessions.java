package cascadelm.bench.eval;

import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;

/** A fresh session over a fresh cache of the given policy: every measured document starts from nothing. */
public final class Sessions {
    private Sessions() {
    }

    /** {@code tokens}: how long the document will be (sizes the full cache and caps the chunk). */
    public static ModelSession fresh(LlamaModel model, Backend backend, CacheSettings settings, int tokens) {
        return ModelSessions.open(model, backend, settings, tokens, Math.max(1, Math.min(settings.stride(), tokens)));
    }

    /** Short policy label for tables and charts, e.g. "cascade" or "window". */
    public static String label(CacheSettings s) {
        return s.asMap().get("cache");
    }
}
