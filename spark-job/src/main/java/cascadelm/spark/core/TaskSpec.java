package cascadelm.spark.core;

import java.io.Serializable;

/**
 * One thing to do with a document: its summary, or the answer to one question. With the document's id it
 * makes the result key (doc_id, task, question_id); a summary has no question id. {@code problem} says why
 * the task cannot run when the input already shows it (a question key given twice): it then yields an
 * error row with that reason.
 */
public record TaskSpec(String task, String questionId, String question, String problem) implements Serializable {
    public static final String SUMMARY = "summary";
    public static final String QA = "qa";

    public static TaskSpec summary() {
        return new TaskSpec(SUMMARY, null, null, null);
    }

    public static TaskSpec question(String questionId, String question) {
        return new TaskSpec(QA, questionId, question, null);
    }

    public static TaskSpec unanswerable(String questionId, String problem) {
        return new TaskSpec(QA, questionId, null, problem);
    }

    public ResultKey key(String docId) {
        return new ResultKey(docId, task, questionId);
    }
}
