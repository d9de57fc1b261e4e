package cascadelm.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small corpus the tests write for themselves: a few documents of different lengths (one much longer than
 * the rest), one in a sub-folder, an empty one and one that is not UTF-8, plus questions — one of them about
 * a document that does not exist.
 */
public final class TestCorpus {
    /** The tiny random Llama 3 fixture (checked against transformers in the model module). */
    public static final Path MODEL = Path.of("../sample-data/models/tiny-random-llama3.Q8_0.gguf").toAbsolutePath().normalize();

    public final Path docs;
    public final Path questions;
    /** Every (doc_id, task, question_id) the corpus and questions define; question_id "" for summaries. */
    public final List<String> keys = new ArrayList<>();

    private TestCorpus(Path docs, Path questions) {
        this.docs = docs;
        this.questions = questions;
    }

    public static TestCorpus write(Path dir) throws IOException {
        Path docs = Files.createDirectories(dir.resolve("docs"));
        TestCorpus c = new TestCorpus(docs, dir.resolve("questions.csv"));
        String[] names = {"ferry.txt", "orchard.txt", "lighthouse.txt", "notes/winter.md", "long.txt"};
        int[] sentences = {20, 35, 12, 8, 400};
        for (int i = 0; i < names.length; i++) {
            Path f = docs.resolve(names[i]);
            Files.createDirectories(f.getParent());
            Files.writeString(f, text(i, sentences[i]), StandardCharsets.UTF_8);
            c.keys.add(names[i] + "|summary|");
        }
        Files.writeString(docs.resolve("blank.txt"), "  \n\t\n");
        c.keys.add("blank.txt|summary|");
        Files.write(docs.resolve("latin1.txt"), new byte[]{'c', 'a', 'f', (byte) 0xE9, ' ', 'n', 'o', 'i', 'r'});
        c.keys.add("latin1.txt|summary|");
        Files.writeString(docs.resolve("ignored.csv"), "not,a,document\n");   // neither .txt nor .md

        StringBuilder q = new StringBuilder("doc_id,question_id,question\n");
        String[][] qs = {{"ferry.txt", "q1", "Who waited at the ferry?"}, {"ferry.txt", "q2", "What colour was the boat?"},
                {"orchard.txt", "q1", "How many apple trees were there?"}, {"long.txt", "q1", "Which day did the storm come?"},
                {"blank.txt", "q1", "What is in an empty file?"}, {"nowhere.txt", "q1", "Where is this document?"}};
        for (String[] row : qs) {
            q.append(row[0]).append(',').append(row[1]).append(",\"").append(row[2]).append("\"\n");
            c.keys.add(row[0] + "|qa|" + row[1]);
        }
        Files.writeString(c.questions, q.toString());
        return c;
    }

    private static String text(int seed, int sentences) {
        String[] who = {"Mara", "the ferryman", "Ilse", "a grey cat", "the keeper"};
        String[] did = {"waited by the water", "counted the apple trees", "painted the boat green", "watched the storm",
                "lit the lamp at dusk"};
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sentences; i++) {
            b.append(String.format(Locale.ROOT, "On day %d %s %s. ", i + 1, who[(seed + i) % who.length],
                    did[(seed * 3 + i) % did.length]));
            if (i % 6 == 5) b.append('\n');
        }
        return b.toString();
    }
}
