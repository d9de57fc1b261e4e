package cascadelm.model.tokenizer;

import cascadelm.model.gguf.MapMetadata;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads the pieces of a SentencePiece {@code tokenizer.model} (protobuf ModelProto: field 1 repeated
 * SentencePiece {1 piece, 2 score float, 3 type enum}) into the GGUF metadata llama.cpp would write.
 * Test code only: the engine reads GGUF, never protobuf.
 */
final class SentencePieceModelFile {
    private SentencePieceModelFile() {}

    /** The shared Llama 2 vocabulary, found beside the repository root; empty when not on this machine. */
    static Optional<Path> llama2() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/vocab/llama2-tokenizer.model");
            if (Files.isRegularFile(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    static MapMetadata read(Path file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<String> pieces = new ArrayList<>();
        List<Double> scores = new ArrayList<>();
        List<Long> types = new ArrayList<>();
        while (in.hasRemaining()) {
            long tag = varint(in);
            if (tag >>> 3 == 1 && (tag & 7) == 2) {
                ByteBuffer piece = slice(in, (int) varint(in));
                String text = "";
                double score = 0;
                long type = 1; // proto default: NORMAL
                while (piece.hasRemaining()) {
                    long t = varint(piece);
                    switch ((int) (t >>> 3)) {
                        case 1 -> text = StandardCharsets.UTF_8.decode(slice(piece, (int) varint(piece))).toString();
                        case 2 -> score = piece.getFloat();
                        case 3 -> type = varint(piece);
                        default -> skip(piece, t);
                    }
                }
                pieces.add(text);
                scores.add(score);
                types.add(type);
            } else {
                skip(in, tag);
            }
        }
        Map<String, Object> m = new HashMap<>();
        m.put(Tokenizers.MODEL, "llama");
        m.put(Tokenizers.TOKENS, pieces.toArray(String[]::new));
        m.put(Tokenizers.SCORES, scores.stream().mapToDouble(Double::doubleValue).toArray());
        m.put(Tokenizers.TOKEN_TYPE, types.stream().mapToLong(Long::longValue).toArray());
        m.put(Tokenizers.BOS, 1L);
        m.put(Tokenizers.EOS, 2L);
        m.put(Tokenizers.UNKNOWN, 0L);
        return new MapMetadata(m);
    }

    private static long varint(ByteBuffer in) {
        long value = 0;
        for (int shift = 0; ; shift += 7) {
            byte b = in.get();
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) return value;
        }
    }

    private static ByteBuffer slice(ByteBuffer in, int length) {
        ByteBuffer s = in.slice(in.position(), length).order(ByteOrder.LITTLE_ENDIAN);
        in.position(in.position() + length);
        return s;
    }

    private static void skip(ByteBuffer in, long tag) {
        switch ((int) (tag & 7)) {
            case 0 -> varint(in);
            case 1 -> in.position(in.position() + 8);
            case 2 -> {
                int length = (int) varint(in);
                in.position(in.position() + length);
            }
            case 5 -> in.position(in.position() + 4);
            default -> throw new IllegalStateException("unsupported protobuf wire type " + (tag & 7));
        }
    }
}
