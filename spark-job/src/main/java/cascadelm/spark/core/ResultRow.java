package cascadelm.spark.core;

import java.io.Serializable;

/**
 * One result: the output of one task on one document, or why there is none. The job's output schema
 * (README, "The Spark job") is exactly these fields in this order.
 *
 * @param prefillMs the document's shared read (measured once, the same in every task of the document)
 *                  plus this task's own prompt
 * @param cache     policy and sizes, e.g. {@code cascade(S=64,C=4,W=256,score)}
 */
public record ResultRow(String docId, String task, String questionId, String text, long tokensIn, long tokensOut,
                        double prefillMs, double decodeMs, String backend, String model, String cache,
                        String status, String error) implements Serializable {
    public static final String OK = "ok";
    public static final String ERROR = "error";

    public static ResultRow error(ResultKey key, String backend, String model, String cache, String reason) {
        return new ResultRow(key.docId(), key.task(), key.questionId(), null, 0, 0, 0, 0, backend, model, cache,
                ERROR, reason);
    }

    public ResultKey key() {
        return new ResultKey(docId, task, questionId);
    }

    public boolean ok() {
        return OK.equals(status);
    }
}
