package cascadelm.spark;

import cascadelm.spark.core.ProcessingListener;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

import java.io.Serial;
import java.io.Serializable;

/**
 * The job's counters as named Spark accumulators (shown per stage in the Spark UI). They are updated in a
 * transformation, so a retried task may count twice: _SUMMARY.json takes its row counts from the written
 * table and uses these for tokens and throughput only.
 */
final class JobMetrics implements ProcessingListener, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    final LongAccumulator documents;
    final LongAccumulator tokensIn;
    final LongAccumulator tokensOut;
    final LongAccumulator errors;
    final LongAccumulator modelMillis;

    JobMetrics(SparkContext sc) {
        documents = sc.longAccumulator("cascade: documents done");
        tokensIn = sc.longAccumulator("cascade: tokens in");
        tokensOut = sc.longAccumulator("cascade: tokens out");
        errors = sc.longAccumulator("cascade: error rows");
        modelMillis = sc.longAccumulator("cascade: model milliseconds");
    }

    @Override
    public void documentDone(long in, long out, int errorRows, long modelNanos) {
        documents.add(1);
        tokensIn.add(in);
        tokensOut.add(out);
        errors.add(errorRows);
        modelMillis.add(modelNanos / 1_000_000);
        LocalProgress.DOCUMENTS.incrementAndGet();
        LocalProgress.TOKENS.addAndGet(in + out);
    }
}
