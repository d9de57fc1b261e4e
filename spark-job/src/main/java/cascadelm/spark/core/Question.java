package cascadelm.spark.core;

import java.io.Serializable;

/** One input question, as read: either key may be null (such a row is counted, never answered). */
public record Question(String docId, String questionId, String question) implements Serializable {
}
