package cascadelm.model.gguf;

import java.util.Set;

/**
 * Typed access to GGUF key/value metadata. Values are held as: String; Long for every integer type;
 * Double for float32/float64; Boolean; and arrays as String[], long[] (any integer type), double[]
 * (float32/float64), boolean[], or Object[] (arrays of arrays). Accessors convert within a family and
 * throw {@link ModelFormatException} naming the key when it is missing or of another family.
 */
public interface Metadata {

    Set<String> keys();

    /** The raw value (see the class comment for the Java types), or null when absent. */
    Object get(String key);

    default boolean has(String key) {
        return get(key) != null;
    }

    default String string(String key) {
        return as(key, String.class);
    }

    default String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    default long integer(String key) {
        return as(key, Long.class);
    }

    default long integer(String key, long fallback) {
        return has(key) ? integer(key) : fallback;
    }

    /** A count or dimension: an integer in [0, Integer.MAX_VALUE]. */
    default int size(String key) {
        long v = integer(key);
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new ModelFormatException("metadata " + key + ": " + v + " is not a valid size");
        }
        return (int) v;
    }

    default double number(String key) {
        Object v = get(key);
        if (v instanceof Long l) return l;
        return as(key, Double.class);
    }

    default double number(String key, double fallback) {
        return has(key) ? number(key) : fallback;
    }

    default boolean bool(String key, boolean fallback) {
        return has(key) ? as(key, Boolean.class) : fallback;
    }

    default String[] strings(String key) {
        return as(key, String[].class);
    }

    default long[] integers(String key) {
        return as(key, long[].class);
    }

    default double[] numbers(String key) {
        Object v = get(key);
        if (v instanceof long[] l) {
            double[] d = new double[l.length];
            for (int i = 0; i < l.length; i++) d[i] = l[i];
            return d;
        }
        return as(key, double[].class);
    }

    private <T> T as(String key, Class<T> type) {
        Object v = get(key);
        if (v == null) {
            throw new ModelFormatException("metadata " + key + " is missing");
        }
        if (!type.isInstance(v)) {
            throw new ModelFormatException("metadata " + key + " should be " + type.getSimpleName()
                    + " but is " + v.getClass().getSimpleName());
        }
        return type.cast(v);
    }
}
