package cascadelm.spark;

/** Versions reported in _SUMMARY.json. */
final class Versions {
    static final String CASCADE_LM = "0.1.0";

    private Versions() {
    }

    static String arrow() {
        String v = org.apache.arrow.vector.VectorSchemaRoot.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }
}
