package cascadelm.spark.core;

import java.io.Serializable;

/** What makes a result row unique: every input key yields exactly one row. */
public record ResultKey(String docId, String task, String questionId) implements Serializable {
}
