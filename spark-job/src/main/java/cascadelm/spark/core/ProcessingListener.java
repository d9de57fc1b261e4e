package cascadelm.spark.core;

/** Told once per processed document; Spark wires it to accumulators, local runs to the progress bar. */
public interface ProcessingListener {
    ProcessingListener NONE = (tokensIn, tokensOut, errorRows) -> { };

    void documentDone(long tokensIn, long tokensOut, int errorRows);
}
