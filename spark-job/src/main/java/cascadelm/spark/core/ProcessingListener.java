package cascadelm.spark.core;

/** Told once per processed document; Spark wires it to accumulators, local runs to the progress bar. */
public interface ProcessingListener {
    ProcessingListener NONE = (tokensIn, tokensOut, errorRows, modelNanos) -> { };

    /**
     * @param modelNanos how long the document held the model (reading it and every task), 0 when it never
     *                   reached the model; the job's wall time less the sum of these is what Spark costs
     */
    void documentDone(long tokensIn, long tokensOut, int errorRows, long modelNanos);
}
