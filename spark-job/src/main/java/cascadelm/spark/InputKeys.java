package cascadelm.spark;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

/**
 * Makes the input keys unique without losing any: a doc_id given to several documents (or a question key
 * given to several questions) is kept once, as a key whose rows are errors naming the duplicate; which copy
 * was meant is the user's call, so none is guessed. Rows with no key at all (a null doc_id or question_id)
 * cannot give a row: they are counted, and the job reports the count.
 */
final class InputKeys {
    private InputKeys() {
    }

    /** Documents (doc_id, title, text, problem) with every doc_id once; null doc_ids left out. */
    static Dataset<Row> uniqueDocuments(Dataset<Row> docs) {
        Column copies = col("copies");
        return docs.where(col("doc_id").isNotNull()).groupBy("doc_id")
                .agg(count(lit(1)).as("copies"), first("title").as("title"), first("text").as("text"),
                        first("problem").as("problem"))
                .select(col("doc_id"), col("title"),
                        when(copies.gt(1), lit(null).cast("string")).otherwise(col("text")).as("text"),
                        when(copies.gt(1), concat(lit("doc_id given to "), copies.cast("string"),
                                lit(" documents of the corpus; none is read: make doc_ids unique"))).otherwise(col("problem")).as("problem"));
    }

    /** Questions (doc_id, question_id, question, problem) with every key once; keyless rows left out. */
    static Dataset<Row> uniqueQuestions(Dataset<Row> questions) {
        Column copies = col("copies");
        return questions.where(col("doc_id").isNotNull().and(col("question_id").isNotNull()))
                .groupBy("doc_id", "question_id")
                .agg(count(lit(1)).as("copies"), first("question").as("question"))
                .select(col("doc_id"), col("question_id"),
                        when(copies.gt(1), lit(null).cast("string")).otherwise(col("question")).as("question"),
                        when(copies.gt(1), concat(lit("question_id given to "), copies.cast("string"),
                                lit(" questions of this document; none is answered: make (doc_id, question_id) unique")))
                                .otherwise(lit(null).cast("string")).as("problem"));
    }

    static long documentsWithoutKey(Dataset<Row> docs) {
        return docs.where(col("doc_id").isNull()).count();
    }

    static long questionsWithoutKey(Dataset<Row> questions) {
        return questions.where(col("doc_id").isNull().or(col("question_id").isNull())).count();
    }
}
