package cascadelm.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * What SentencePiece and byte-level BPE tokenizers share: the vocabulary, special-token splitting,
 * BOS/stop tokens and decoding through bytes. Subclasses say how text becomes tokens and tokens bytes.
 */
abstract sealed class VocabularyTokenizer implements Tokenizer permits SentencePieceTokenizer, BpeTokenizer {

    /** Token ids named by the model file; -1 where a role has no token. */
    record SpecialIds(int bos, int eos, int unknown, boolean addBos, Set<Integer> stopTokens) {
        SpecialIds {
            stopTokens = Set.copyOf(stopTokens);
        }
    }

    final Vocabulary vocabulary;
    private final SpecialIds specialIds;
    private final SpecialTokens specialTokens;

    VocabularyTokenizer(Vocabulary vocabulary, SpecialIds specialIds) {
        this.vocabulary = vocabulary;
        this.specialIds = specialIds;
        this.specialTokens = new SpecialTokens(vocabulary);
    }

    /**
     * Encodes a stretch of plain text into {@code out}.
     *
     * @param startsText whether the stretch begins the text or follows a special token
     */
    abstract void encodeText(String text, boolean startsText, IntList out);

    /**
     * Appends the UTF-8 bytes of one token.
     *
     * @param startOfText whether no token before it rendered text (SentencePiece drops its added space there)
     */
    abstract void appendBytes(int token, boolean startOfText, ByteArrayOutputStream out);

    @Override
    public int vocabularySize() {
        return vocabulary.size();
    }

    @Override
    public int[] encode(String text) {
        IntList out = new IntList();
        if (!text.isEmpty()) encodeText(text, true, out);
        return out.toArray();
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        IntList out = new IntList();
        specialTokens.split(text, new SpecialTokens.Sink() {
            private boolean startsText = true;

            @Override
            public void text(String fragment) {
                encodeText(fragment, startsText, out);
                startsText = false;
            }

            @Override
            public void token(int id) {
                out.add(id);
                startsText = true;
            }
        });
        return out.toArray();
    }

    /** Decodes the tokens as one whole text: the first piece of text is the start of the text. */
    @Override
    public String decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean startOfText = true;
        for (int token : tokens) {
            appendBytes(token, startOfText, out);
            if (rendersText(token)) startOfText = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public StreamingDecoder streamingDecoder() {
        return new Utf8StreamingDecoder(this);
    }

    /** Whether a token stands for text (control and unused tokens render as nothing). */
    boolean rendersText(int token) {
        TokenType type = vocabulary.type(token);
        return type != TokenType.CONTROL && type != TokenType.UNUSED;
    }

    @Override
    public int bosToken() {
        return specialIds.bos();
    }

    public int eosToken() {
        return specialIds.eos();
    }

    int unknownToken() {
        return specialIds.unknown();
    }

    @Override
    public boolean addBos() {
        return specialIds.addBos();
    }

    @Override
    public Set<Integer> stopTokens() {
        return specialIds.stopTokens();
    }

    @Override
    public String piece(int token) {
        return vocabulary.piece(token);
    }

    public TokenType tokenType(int token) {
        return vocabulary.type(token);
    }
}
