package cascadelm.model.generate;

import cascadelm.model.llama.LlamaModel;
import cascadelm.model.tokenizer.ChatTemplate;
import cascadelm.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Turning user text into the token sequence a model expects. */
public final class Prompts {
    private Prompts() {
    }

    /** BOS (when the model wants it) followed by the text, with no special tokens read from the text. */
    public static int[] plain(Tokenizer tokenizer, String text) {
        int[] body = tokenizer.encode(text);
        if (!tokenizer.addBos()) return body;
        int[] withBos = new int[body.length + 1];
        withBos[0] = tokenizer.bosToken();
        System.arraycopy(body, 0, withBos, 1, body.length);
        return withBos;
    }

    /** A system + user turn rendered by the model's chat template, the assistant's turn left open. */
    public static int[] chat(LlamaModel model, String system, String user) {
        ChatTemplate template = ChatTemplate.fromMetadata(model.file().metadata());
        return template.encode(model.tokenizer(), system, user);
    }

    /** Reads a file as strict UTF-8: malformed input is an error, never replaced silently. */
    public static String readUtf8(Path path) throws IOException {
        byte[] bytes = Files.readAllBytes(path);
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes)).toString();
    }
}
