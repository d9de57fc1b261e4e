package cascadelm.bench.eval;

import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.KvCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Prompts;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Question answering against the distance between a planted fact and its question, on a generated corpus with
 * known answers. Each document is read once per policy, in strides, through the policy's cache; at checkpoints
 * (sentence ends that lie a requested distance after a fact) the cache is copied, the question is read on the
 * copy, the answer decoded greedily and scored, and reading continues from the original cache. Linear time.
 *
 * <p>The prompt is the one the demo model was trained with: BOS + the text up to a sentence end + {@code
 * "\nQuestion: <question>\nAnswer:"}. The text is tokenised once; a checkpoint stops the stream at the end of the
 * last word before the sentence's closing punctuation and re-tokenises that punctuation together with the
 * question suffix, because the Llama 3 pre-tokenizer joins punctuation with a following newline (".\n"); the
 * prefix plus that suffix is then exactly the tokenisation of the whole prompt (tested).
 */
public final class QaEval {

    /** Greedy tokens after "Answer:"; the generated answers are a few words. */
    public static final int ANSWER_TOKENS = 16;

    /** The default distances of {@code --distances}. */
    public static final String DEFAULT_DISTANCES = "256,512,1k,2k,4k,8k,16k,32k,64k,128k,256k,512k,1m";

    /** A sentence end as the training script cuts at: terminal punctuation, closing quotes, then space or end. */
    private static final Pattern SENTENCE_END = Pattern.compile("[.!?][\"'\u201d)]*(?=\\s|$)");

    /**
     * A question and where its fact is in the text (chars); {@code answerStart} is where the gold answer occurs in the
     * fact sentence (ignoring case), or −1 when it does not occur there word for word.
     */
    public record Question(String id, String question, String answer, int factStart, int factEnd, int answerStart) {
    }

    public record Document(String id, String text, List<Question> questions) {
    }

    /** A document's tokens (BOS first when the model wants it) and each token's end as a char offset in the text. */
    public record Tokens(int[] ids, int[] ends) {
        public int length() {
            return ids.length;
        }
    }

    /** One question asked at one checkpoint: the distance asked for and the distance it got. */
    public record Ask(int question, int target, int distance) {
    }

    /**
     * A place to stop and ask: {@code tokens} document tokens have been read (they end at char {@code tailStart},
     * the end of the last word of a sentence); the prompt's text ends at char {@code cut}, the sentence end.
     */
    public record Checkpoint(int tokens, int tailStart, int cut, List<Ask> asks) {
    }

    /**
     * One answer of one policy. {@code factHeld} and {@code answerHeld}: the share of (layer, KV head, token) triples
     * of the fact sentence's tokens, and of the gold answer's tokens inside it, that the cache still held when the
     * question was asked (NaN when the policy does not say, or the answer is not in the fact word for word);
     * {@code answerCovered}: the share of the answer's tokens that at least one layer and KV head held.
     */
    public record Row(String policy, String document, String questionId, String question, String gold, int target,
                      int distance, int position, String answer, boolean exact, boolean contains,
                      double factHeld, double answerHeld, double answerCovered) {
    }

    /**
     * The answers of one policy at one requested distance; {@code answerHeld} is the mean of the rows' {@link
     * Row#answerHeld} where known (NaN when none is).
     */
    public record Bucket(String policy, int distance, int n, int exact, int contains, double answerHeld) {
        public double exactMatch() {
            return n == 0 ? Double.NaN : (double) exact / n;
        }

        public double containsRate() {
            return n == 0 ? Double.NaN : (double) contains / n;
        }
    }

    private QaEval() {
    }

    // ---------------------------------------------------------------- corpus

    /** Reads {@code dir/documents.jsonl}; at most {@code limit} documents (0 = all). */
    public static List<Document> readCorpus(Path dir, int limit) throws IOException {
        Path file = dir.resolve("documents.jsonl");
        ObjectMapper json = new ObjectMapper();
        List<Document> docs = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isBlank()) continue;
                docs.add(document(json.readTree(line)));
                if (limit > 0 && docs.size() == limit) break;
            }
        }
        return docs;
    }

    static Document document(JsonNode d) {
        String text = d.get("text").asText();
        List<Question> qs = new ArrayList<>();
        for (JsonNode q : d.path("questions")) {
            String fact = q.path("fact").asText("");
            int f = q.path("fact_offset").asInt(-1);
            if (f < 0 || !text.startsWith(fact, f)) f = fact.isEmpty() ? -1 : text.indexOf(fact);
            if (f < 0) continue;   // a fact not in the text cannot be placed
            String answer = q.get("answer").asText().strip();
            int a = answer.isEmpty() ? -1 : fact.toLowerCase(Locale.ROOT).indexOf(answer.toLowerCase(Locale.ROOT));
            qs.add(new Question(q.path("question_id").asText(), q.get("question").asText().strip(),
                    answer, f, f + fact.length(), a < 0 ? -1 : f + a));
        }
        return new Document(d.path("doc_id").asText(), text, qs);
    }

    // ---------------------------------------------------------------- tokens and checkpoints

    /** Tokenises the whole text once and finds each token's end in the text by decoding the tokens in order. */
    public static Tokens tokenize(Tokenizer tokenizer, String text) {
        int[] ids = Prompts.plain(tokenizer, text);
        int[] ends = new int[ids.length];
        Tokenizer.StreamingDecoder decoder = tokenizer.streamingDecoder();
        int first = tokenizer.addBos() ? 1 : 0;
        int chars = 0;
        for (int i = first; i < ids.length; i++) {
            chars += decoder.accept(ids[i]).length();
            ends[i] = chars;
        }
        chars += decoder.flush().length();
        if (chars != text.length()) {
            throw new IllegalStateException("the tokenizer does not give the text back (" + chars + " chars decoded, "
                    + text.length() + " in the text): its offsets cannot be placed");
        }
        return new Tokens(ids, ends);
    }

    /**
     * Where to ask which question: for every question and requested distance D, the first sentence end whose
     * prompt has at least D tokens between the end of the fact sentence and the question, among the first
     * {@code limit} tokens (0 = all). Questions whose document is too short for D are not asked at D.
     * Checkpoints come sorted by position; one position may serve several questions.
     */
    public static List<Checkpoint> checkpoints(String text, Tokens tokens, List<Question> questions,
                                               List<Integer> distances, int limit) {
        int n = limit > 0 ? Math.min(limit, tokens.length()) : tokens.length();
        int[] ends = tokens.ends();
        // Candidate stops: (tokens read, tail start, cut), increasing.
        List<int[]> stops = new ArrayList<>();
        Matcher m = SENTENCE_END.matcher(text);
        while (m.find()) {
            int cut = m.end();
            int tail = cut;
            while (tail > 0 && !Character.isWhitespace(text.charAt(tail - 1)) && !Character.isLetterOrDigit(text.charAt(tail - 1))) {
                tail--;
            }
            if (tail == 0 || !Character.isLetterOrDigit(text.charAt(tail - 1))) continue;
            int k = tokensEndingAt(ends, tail);
            if (k < 0) continue;
            if (k > n) break;
            stops.add(new int[]{k, tail, cut});
        }
        TreeMap<Integer, Checkpoint> byPosition = new TreeMap<>();
        for (int qi = 0; qi < questions.size(); qi++) {
            int factEnd = tokensThrough(ends, questions.get(qi).factEnd());
            for (int d : distances) {
                int want = factEnd + d;
                int s = firstStopAtOrAfter(stops, want);
                if (s < 0) continue;
                int[] stop = stops.get(s);
                byPosition.computeIfAbsent(stop[0], k -> new Checkpoint(stop[0], stop[1], stop[2], new ArrayList<>()))
                        .asks().add(new Ask(qi, d, stop[0] - factEnd));
            }
        }
        return new ArrayList<>(byPosition.values());
    }

    /** The count of tokens whose last one ends exactly at char {@code c}, or −1 when no token ends there. */
    static int tokensEndingAt(int[] ends, int c) {
        int lo = Arrays.binarySearch(ends, c);
        if (lo < 0) return -1;
        while (lo > 0 && ends[lo - 1] == c) lo--;   // the first token to end there (later ones decode to nothing)
        return lo + 1;
    }

    /** Token indices [from, to) of the tokens that hold chars [start, end) of the text. */
    static int[] tokenSpan(int[] ends, int start, int end) {
        return new int[]{tokensThrough(ends, start + 1) - 1, tokensThrough(ends, end)};
    }

    /**
     * The share of (layer, KV head, token) triples of tokens [from, to) that the cache holds; NaN when the cache does
     * not say which tokens it holds.
     */
    public static double heldShare(KvCache cache, int layers, int kvHeads, int from, int to) {
        long held = 0;
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < kvHeads; g++) {
                int[] tokens = cache.heldTokens(l, g);
                if (tokens == null) return Double.NaN;
                for (int t : tokens) if (t >= from && t < to) held++;
            }
        }
        return (double) held / ((long) layers * kvHeads * (to - from));
    }

    /**
     * The share of tokens [from, to) that at least one (layer, KV head) of the cache holds; NaN when the cache does
     * not say which tokens it holds. Heads that select by score may keep different tokens of one sentence.
     */
    public static double coveredShare(KvCache cache, int layers, int kvHeads, int from, int to) {
        boolean[] covered = new boolean[to - from];
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < kvHeads; g++) {
                int[] tokens = cache.heldTokens(l, g);
                if (tokens == null) return Double.NaN;
                for (int t : tokens) if (t >= from && t < to) covered[t - from] = true;
            }
        }
        int n = 0;
        for (boolean c : covered) if (c) n++;
        return (double) n / covered.length;
    }

    /** Tokens up to and including the one that holds char {@code c − 1}: where the fact sentence ends. */
    static int tokensThrough(int[] ends, int c) {
        int lo = 0, hi = ends.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] >= c) hi = mid;
            else lo = mid + 1;
        }
        return lo + 1;
    }

    private static int firstStopAtOrAfter(List<int[]> stops, int tokens) {
        int lo = 0, hi = stops.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (stops.get(mid)[0] >= tokens) hi = mid;
            else lo = mid + 1;
        }
        return lo < stops.size() ? lo : -1;
    }

    /** The text of a question's prompt after the streamed tokens: the sentence's closing punctuation and the question. */
    public static String suffixText(String text, Checkpoint c, String question) {
        return text.substring(c.tailStart(), c.cut()) + "\nQuestion: " + question + "\nAnswer:";
    }

    /** The whole prompt as the model was trained on it (for tests and one-shot comparisons). */
    public static String promptText(String text, Checkpoint c, String question) {
        return text.substring(0, c.cut()) + "\nQuestion: " + question + "\nAnswer:";
    }

    // ---------------------------------------------------------------- scoring

    /** Exact match: the answer, trimmed, is the gold answer. */
    public static boolean exact(String answer, String gold) {
        return answer.strip().equals(gold.strip());
    }

    /** Lenient: the gold answer appears in the answer, ignoring case. */
    public static boolean contains(String answer, String gold) {
        String g = gold.strip().toLowerCase(Locale.ROOT);
        return !g.isEmpty() && answer.toLowerCase(Locale.ROOT).contains(g);
    }

    // ---------------------------------------------------------------- running

    /** Tokens the policies will stream for these documents, for progress. */
    public static long plannedTokens(List<List<Checkpoint>> checkpoints) {
        long sum = 0;
        for (List<Checkpoint> cs : checkpoints) if (!cs.isEmpty()) sum += cs.getLast().tokens();
        return sum;
    }

    /**
     * Reads one document once through one policy and answers every checkpoint's questions on copies of the cache.
     * Chunks follow the stride grid (0, T, 2T, …), split where a checkpoint falls inside one.
     */
    public static List<Row> runDocument(LlamaModel model, Backend backend, CacheSettings settings, Document doc,
                                        Tokens tokens, List<Checkpoint> checkpoints, Progress progress) {
        return runDocument(model, backend, settings, doc, tokens, checkpoints, progress, null);
    }

    /** As above; {@code sink} (may be null) is given each row as soon as it is scored, for partial results. */
    public static List<Row> runDocument(LlamaModel model, Backend backend, CacheSettings settings, Document doc,
                                        Tokens tokens, List<Checkpoint> checkpoints, Progress progress,
                                        Consumer<Row> sink) {
        List<Row> rows = new ArrayList<>();
        if (checkpoints.isEmpty()) return rows;
        Tokenizer tokenizer = model.tokenizer();
        List<List<int[]>> suffixes = new ArrayList<>();
        int longestSuffix = 0;
        for (Checkpoint c : checkpoints) {
            List<int[]> s = new ArrayList<>();
            for (Ask a : c.asks()) {
                int[] t = tokenizer.encode(suffixText(doc.text(), c, doc.questions().get(a.question()).question()));
                s.add(t);
                longestSuffix = Math.max(longestSuffix, t.length);
            }
            suffixes.add(s);
        }
        int last = checkpoints.getLast().tokens();
        int layers = model.config().layers(), kvHeads = model.config().kvHeads();
        ModelSession session = Sessions.fresh(model, backend, settings, last + longestSuffix + ANSWER_TOKENS + 1);
        int stride = session.maxChunk();
        String policy = Sessions.label(settings);
        int[] ids = tokens.ids();
        int pos = 0;
        for (int ci = 0; ci < checkpoints.size(); ci++) {
            Checkpoint c = checkpoints.get(ci);
            while (pos < c.tokens()) {
                int n = Math.min(c.tokens() - pos, stride - pos % stride);
                session.forward(ids, pos, n, null);
                pos += n;
                progress.advance(n);
            }
            KvCache original = session.cache();
            for (int ai = 0; ai < c.asks().size(); ai++) {
                Ask a = c.asks().get(ai);
                Question q = doc.questions().get(a.question());
                int[] fact = tokenSpan(tokens.ends(), q.factStart(), q.factEnd());
                double factHeld = heldShare(original, layers, kvHeads, fact[0], fact[1]);
                int[] gold = q.answerStart() < 0 ? null
                        : tokenSpan(tokens.ends(), q.answerStart(), q.answerStart() + q.answer().length());
                double answerHeld = gold == null ? Double.NaN : heldShare(original, layers, kvHeads, gold[0], gold[1]);
                double answerCovered = gold == null ? Double.NaN : coveredShare(original, layers, kvHeads, gold[0], gold[1]);
                session.setCache(original.copy());
                Generator.Result r = Generator.generate(session, suffixes.get(ci).get(ai), Sampler.greedy(),
                        ANSWER_TOKENS, tokenizer.stopTokens(), t -> { });
                String answer = tokenizer.decode(r.tokens());
                rows.add(new Row(policy, doc.id(), q.id(), q.question(), q.answer(), a.target(), a.distance(),
                        c.tokens(), answer.strip(), exact(answer, q.answer()), contains(answer, q.answer()),
                        factHeld, answerHeld, answerCovered));
                if (sink != null) sink.accept(rows.getLast());
            }
            session.setCache(original);
        }
        return rows;
    }

    /** Rows grouped per policy and requested distance, in the order given; empty buckets are kept with n = 0. */
    public static List<Bucket> buckets(List<Row> rows, List<String> policies, List<Integer> distances) {
        List<Bucket> out = new ArrayList<>();
        for (String p : policies) {
            for (int d : distances) {
                int n = 0, e = 0, c = 0, known = 0;
                double held = 0;
                for (Row r : rows) {
                    if (!r.policy().equals(p) || r.target() != d) continue;
                    n++;
                    if (r.exact()) e++;
                    if (r.contains()) c++;
                    if (!Double.isNaN(r.answerHeld())) {
                        known++;
                        held += r.answerHeld();
                    }
                }
                out.add(new Bucket(p, d, n, e, c, known == 0 ? Double.NaN : held / known));
            }
        }
        return out;
    }

    /** Sorted, distinct distances. */
    public static List<Integer> distinctSorted(List<Integer> distances) {
        return distances.stream().distinct().sorted(Comparator.naturalOrder()).toList();
    }
}
