package cascadelm.model.tokenizer;

import cascadelm.model.gguf.Metadata;

/**
 * The chat format a model was trained on, recognised from its Jinja template
 * ({@code tokenizer.chat_template}) by the markers it writes. The template itself is never run: only
 * the formats known here are rendered, by code.
 */
public final class ChatTemplate {
    static final String KEY = "tokenizer.chat_template";
    private static final String LLAMA3_MARKER = "<|start_header_id|>";
    private static final String CHATML_MARKER = "<|im_start|>";
    private static final String LLAMA3_BOS = "<|begin_of_text|>";

    public enum Format { LLAMA3, CHATML }

    private final Format format;

    private ChatTemplate(Format format) {
        this.format = format;
    }

    public static ChatTemplate of(Format format) {
        return new ChatTemplate(format);
    }

    /** The format of the model's template; fails when there is none or it is not a known one. */
    public static ChatTemplate fromMetadata(Metadata m) {
        if (!m.has(KEY)) {
            throw new UnsupportedChatTemplateException("metadata " + KEY + " is missing; expected a Llama 3 ("
                    + LLAMA3_MARKER + ") or ChatML (" + CHATML_MARKER + ") template");
        }
        return detect(m.string(KEY));
    }

    public static ChatTemplate detect(String template) {
        if (template.contains(LLAMA3_MARKER)) return new ChatTemplate(Format.LLAMA3);
        if (template.contains(CHATML_MARKER)) return new ChatTemplate(Format.CHATML);
        throw new UnsupportedChatTemplateException("metadata " + KEY + " is neither a Llama 3 template (with "
                + LLAMA3_MARKER + ") nor a ChatML template (with " + CHATML_MARKER + ")");
    }

    public Format format() {
        return format;
    }

    /**
     * The prompt text for a system and a user turn, ending with the assistant's turn opened.
     *
     * @param system the system message, or null for none
     * @param withBos whether to write Llama 3's BOS text (leave it out when the tokenizer adds BOS)
     */
    public String render(String system, String user, boolean withBos) {
        StringBuilder sb = new StringBuilder();
        switch (format) {
            case LLAMA3 -> {
                if (withBos) sb.append(LLAMA3_BOS);
                if (system != null) llama3Turn(sb, "system", system);
                llama3Turn(sb, "user", user);
                sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            case CHATML -> {
                if (system != null) chatMlTurn(sb, "system", system);
                chatMlTurn(sb, "user", user);
                sb.append("<|im_start|>assistant\n");
            }
        }
        return sb.toString();
    }

    /** The prompt tokens, with BOS exactly once when the format or the tokenizer asks for it. */
    public int[] encode(Tokenizer tokenizer, String system, String user) {
        boolean tokenizerAddsBos = tokenizer.addBos();
        int[] body = tokenizer.encodeWithSpecialTokens(render(system, user, !tokenizerAddsBos));
        if (!tokenizerAddsBos) return body;
        int[] tokens = new int[body.length + 1];
        tokens[0] = tokenizer.bosToken();
        System.arraycopy(body, 0, tokens, 1, body.length);
        return tokens;
    }

    private static void llama3Turn(StringBuilder sb, String role, String content) {
        sb.append("<|start_header_id|>").append(role).append("<|end_header_id|>\n\n").append(content).append("<|eot_id|>");
    }

    private static void chatMlTurn(StringBuilder sb, String role, String content) {
        sb.append("<|im_start|>").append(role).append('\n').append(content).append("<|im_end|>\n");
    }
}
