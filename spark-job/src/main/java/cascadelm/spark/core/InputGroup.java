package cascadelm.spark.core;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Everything the input holds under one doc_id, sorted out so that every key yields exactly one row and none
 * is lost: the work to do (the document with its tasks), the keys of questions about a document the corpus
 * does not have, and how many rows had no key at all. A doc_id given to several documents (or a question key
 * given to several questions) stays one key whose rows are errors naming the duplicate: which copy was meant
 * is the user's call, so none is guessed. Rows with no key (a null doc_id or question_id) cannot give a row:
 * they are counted, and the job reports the count.
 *
 * @param work               the document and its tasks still to do; null when there is none
 * @param orphans            question keys still to do whose doc_id names no document of the corpus
 * @param keylessDocuments   documents of this group without a doc_id (the group of the null doc_id)
 * @param keylessQuestions   questions of this group without a doc_id or a question_id
 */
public record InputGroup(WorkItem work, List<ResultKey> orphans, long keylessDocuments, long keylessQuestions)
        implements Serializable {

    /**
     * @param docId     the group's doc_id, null for the rows that have none
     * @param documents the corpus rows with this doc_id
     * @param questions the question rows with this doc_id (empty when the run answers no questions)
     * @param summaries whether the run writes summaries
     * @param done      keys an earlier run committed (--resume): they are neither redone nor written again
     */
    public static InputGroup of(String docId, Iterable<Document> documents, Iterable<Question> questions, boolean summaries,
                                Set<ResultKey> done) {
        List<Document> copies = new ArrayList<>();
        documents.forEach(copies::add);
        long keylessQuestions = 0;
        // Sorted by question_id, so that a document's rows come out in the same order every run.
        Map<String, List<Question>> byId = new TreeMap<>();
        for (Question q : questions) {
            if (docId == null || q.questionId() == null) keylessQuestions++;
            else byId.computeIfAbsent(q.questionId(), k -> new ArrayList<>()).add(q);
        }
        if (docId == null) return new InputGroup(null, List.of(), copies.size(), keylessQuestions);
        if (copies.isEmpty()) {
            List<ResultKey> orphans = new ArrayList<>();
            for (String id : byId.keySet()) {
                ResultKey k = new ResultKey(docId, TaskSpec.QA, id);
                if (!done.contains(k)) orphans.add(k);
            }
            return new InputGroup(null, orphans, 0, keylessQuestions);
        }
        Document doc = copies.size() == 1 ? copies.getFirst() : new Document(docId, copies.getFirst().title(), null,
                "doc_id given to " + copies.size() + " documents of the corpus; none is read: make doc_ids unique");
        List<TaskSpec> tasks = new ArrayList<>();
        if (summaries) tasks.add(TaskSpec.summary());
        byId.forEach((id, qs) -> tasks.add(qs.size() == 1 ? TaskSpec.question(id, qs.getFirst().question())
                : TaskSpec.unanswerable(id, "question_id given to " + qs.size()
                        + " questions of this document; none is answered: make (doc_id, question_id) unique")));
        tasks.removeIf(t -> done.contains(t.key(docId)));
        return new InputGroup(tasks.isEmpty() ? null : new WorkItem(doc, tasks), List.of(), 0, keylessQuestions);
    }
}
