package cascadelm.model.gguf;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;

import static cascadelm.model.gguf.GgufBytes.*;
import static org.junit.jupiter.api.Assertions.*;

class GgufFileTest {
    @TempDir
    Path dir;

    /** A small valid v3 file: four metadata values, an F32 vector and a 2 × 32 Q8_0 matrix. */
    static GgufBytes smallFile() {
        GgufBytes b = header(3, 2, 4)
                .str("general.architecture").u32(STRING).str("llama")
                .str("llama.block_count").u32(UINT32).u32(2)
                .str("tokenizer.ggml.tokens").u32(ARRAY).u32(STRING).u64(3).str("a").str("é").str("<s>")
                .str("x.scores").u32(ARRAY).u32(FLOAT32).u64(2).f32(0.5f).f32(-1.25f)
                .tensor("norm.weight", F32, 0, 8)
                .tensor("tok_embd.weight", Q8_0, 32, 32, 2)
                .pad(32);
        for (int i = 1; i <= 8; i++) b.f32(i);
        for (int block = 0; block < 2; block++) {
            b.u16(0x3C00);  // f16 scale 1.0
            for (int i = 0; i < 32; i++) b.u8(block * 32 + i);
        }
        return b;
    }

    private GgufFile open(GgufBytes bytes) throws IOException {
        return GgufFile.open(bytes.writeTo(dir.resolve("m.gguf")));
    }

    /** Opening fails with a ModelFormatException whose message contains every fragment. */
    private ModelFormatException assertRejected(GgufBytes bytes, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> open(bytes).close());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        }
        return e;
    }

    @Test
    void readsHandAssembledFile() throws IOException {
        try (GgufFile f = open(smallFile())) {
            assertEquals(3, f.version());
            assertEquals(32, f.alignment());
            Metadata m = f.metadata();
            assertEquals("llama", m.string("general.architecture"));
            assertEquals(2L, m.get("llama.block_count"));
            assertArrayEquals(new String[] {"a", "é", "<s>"}, m.strings("tokenizer.ggml.tokens"));
            assertArrayEquals(new double[] {0.5, -1.25}, m.numbers("x.scores"));

            assertEquals(2, f.tensors().size());
            GgufTensor norm = f.tensor("norm.weight");
            assertEquals(f.tensors().get(0), norm);
            assertArrayEquals(new long[] {8}, norm.dims());
            assertEquals(TensorType.F32, norm.type());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, norm.toFloats());

            GgufTensor emb = f.tensor("tok_embd.weight");
            assertEquals("Q8_0", emb.typeName());
            assertEquals(64, emb.elements());
            assertEquals(68, emb.byteSize());
            assertEquals(norm.fileOffset() + 32, emb.fileOffset());
            assertEquals(smallFile().size() - 68, emb.fileOffset());
            Matrix mat = emb.matrix();
            assertEquals(2, mat.rows());
            assertEquals(32, mat.cols());
            assertEquals(33, emb.data().get(ValueLayout.JAVA_BYTE, 34 + 2 + 1));
            assertNull(f.tensor("absent"));
        }
    }

    @Test
    void readsVersion2() throws IOException {
        byte[] v3 = smallFile().bytes();
        v3[4] = 2;
        try (GgufFile f = open(new GgufBytes().raw(v3))) {
            assertEquals(2, f.version());
            assertEquals(2, f.tensors().size());
        }
    }

    @Test
    void everyTruncatedPrefixFailsWithModelFormatException() throws IOException {
        byte[] whole = smallFile().bytes();
        for (int length = 0; length < whole.length; length++) {
            GgufBytes prefix = new GgufBytes().raw(Arrays.copyOf(whole, length));
            final int n = length;
            Throwable t = assertThrows(Throwable.class, () -> open(prefix).close(), () -> "prefix " + n + " opened");
            assertInstanceOf(ModelFormatException.class, t, "prefix of " + length + " bytes: " + t);
        }
        open(new GgufBytes().raw(whole)).close();
    }

    @Test
    void missingFileIsNoSuchFileException() {
        assertThrows(NoSuchFileException.class, () -> GgufFile.open(dir.resolve("absent.gguf")));
    }

    @Test
    void rejectsWrongMagic() {
        assertRejected(new GgufBytes().raw("GGML").u32(3).u64(0).u64(0), "magic", "not a GGUF file");
    }

    @Test
    void rejectsVersion1() {
        assertRejected(header(1, 0, 0), "version", "version 1 is not supported");
    }

    @Test
    void rejectsVersion99() {
        assertRejected(header(99, 0, 0), "version", "unknown GGUF version 99");
    }

    @Test
    void rejectsBigEndianFile() {
        assertRejected(header(Integer.reverseBytes(3), 0, 0), "big-endian");
    }

    // 2^63, 2^64 - 1, and 2^63 - 1: all far more than a small file can hold.
    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeTensorCount(long count) {
        assertRejected(header(3, count, 0), "tensor count", Long.toUnsignedString(count));
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeKvCount(long count) {
        assertRejected(header(3, 0, count), "metadata kv count", Long.toUnsignedString(count));
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeArrayLength(long count) {
        assertRejected(header(3, 0, 1).str("big").u32(ARRAY).u32(UINT8).u64(count).u8(1),
                "metadata big element count", Long.toUnsignedString(count));
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeKeyLength(long length) {
        assertRejected(header(3, 0, 1).u64(length).raw("key").u32(UINT8).u8(1),
                "metadata key #0", Long.toUnsignedString(length));
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeStringValueLength(long length) {
        assertRejected(header(3, 0, 1).str("name").u32(STRING).u64(length).raw("abc"),
                "metadata name", Long.toUnsignedString(length));
    }

    @ParameterizedTest
    @ValueSource(longs = {Long.MIN_VALUE, -1L, Long.MAX_VALUE})
    void rejectsHugeTensorNameLength(long length) {
        assertRejected(header(3, 1, 0).u64(length).raw("t").u32(1).u64(8).u32(F32).u64(0).zeros(64),
                "tensor #0 name", Long.toUnsignedString(length));
    }

    @Test
    void rejectsArrayLengthOverTheCapEvenWhenTheFileHoldsIt() {
        int over = GgufCursor.MAX_ARRAY_ELEMENTS + 1;
        GgufBytes b = header(3, 0, 1).str("big").u32(ARRAY).u32(UINT8).u64(over).zeros(over);
        assertRejected(b, "metadata big element count", "limit");
    }

    @Test
    void capsArrayElementsOfAllMetadataTogether() {
        int half = GgufCursor.MAX_ARRAY_ELEMENTS / 2 + 1;
        GgufBytes b = header(3, 0, 2)
                .str("first").u32(ARRAY).u32(UINT8).u64(half).zeros(half)
                .str("second").u32(ARRAY).u32(UINT8).u64(half).zeros(half);
        assertRejected(b, "metadata second element count", "limit");
    }

    /** Random damage to a valid file never escapes as anything but a ModelFormatException. */
    @Test
    void randomCorruptionFailsOnlyWithModelFormatException() throws IOException {
        byte[] whole = smallFile().bytes();
        Random random = new Random(20261124);
        Path p = dir.resolve("fuzz.gguf");
        int rejected = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] damaged = whole.clone();
            for (int flips = 1 + random.nextInt(4); flips > 0; flips--) {
                int at = random.nextInt(damaged.length);
                // Half the time a plausible extreme (0 or 0xFF) rather than noise: counts and lengths.
                damaged[at] = (byte) switch (random.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> 0xFF;
                    default -> random.nextInt(256);
                };
            }
            Files.write(p, damaged);
            try (GgufFile f = GgufFile.open(p)) {
                for (GgufTensor t : f.tensors()) {
                    assertTrue(t.fileOffset() + t.byteSize() <= damaged.length);
                }
            } catch (ModelFormatException expected) {
                rejected++;
            } catch (Throwable t) {
                fail("round " + round + ": " + t, t);
            }
        }
        assertTrue(rejected > 1000, "only " + rejected + " damaged files were rejected");
    }

    @Test
    void rejectsTensorExtentPastEndOfFile() {
        GgufBytes b = header(3, 1, 0).tensor("w", F32, 0, 8).pad(32).zeros(31);
        assertRejected(b, "tensor w offset", "past the end of the file");
    }

    @Test
    void rejectsTensorOffsetPastEndOfFile() {
        GgufBytes b = header(3, 1, 0).tensor("w", F32, Long.MAX_VALUE & -32L, 8).pad(32).zeros(32);
        assertRejected(b, "tensor w offset", "past the end of the file");
    }

    @Test
    void rejectsOverlappingTensors() {
        GgufBytes b = header(3, 2, 0).tensor("a", F32, 0, 16).tensor("b", F32, 32, 8).pad(32).zeros(96);
        assertRejected(b, "tensor b offset", "overlaps tensor a");
    }

    @Test
    void rejectsMisalignedTensorOffset() {
        GgufBytes b = header(3, 1, 0).tensor("w", F32, 4, 8).pad(32).zeros(64);
        assertRejected(b, "tensor w offset", "not a multiple of the alignment 32");
    }

    @Test
    void rejectsUnknownTensorTypeByNumber() {
        GgufBytes b = header(3, 1, 0).tensor("w", 4, 0, 32).pad(32).zeros(64);  // 4 was Q4_2, removed
        assertRejected(b, "tensor w type", "unknown ggml type id 4");
        assertRejected(header(3, 1, 0).tensor("w", 99, 0, 32).pad(32).zeros(64), "unknown ggml type id 99");
    }

    @Test
    void opensUnsupportedKnownTypeButTypeNamesIt() throws IOException {
        GgufBytes b = header(3, 1, 0).tensor("blk.0.ffn_down.weight", Q5_K, 0, 256).pad(32).zeros(176);
        try (GgufFile f = open(b)) {
            GgufTensor t = f.tensor("blk.0.ffn_down.weight");
            assertEquals("Q5_K", t.typeName());
            assertEquals(176, t.byteSize());
            ModelFormatException e = assertThrows(ModelFormatException.class, t::type);
            assertTrue(e.getMessage().contains("blk.0.ffn_down.weight has type Q5_K, which cascade-lm does not support"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("Q8_0"), e.getMessage());
            assertThrows(ModelFormatException.class, t::matrix);
        }
    }

    @Test
    void rejectsZeroSizedDimension() {
        assertRejected(header(3, 1, 0).tensor("w", F32, 0, 8, 0).pad(32).zeros(32), "tensor w dims[1]", "is 0");
    }

    @Test
    void rejectsTooManyAndTooFewDimensions() {
        assertRejected(header(3, 1, 0).tensor("w", F32, 0, 1, 1, 1, 1, 1).pad(32).zeros(32), "tensor w n_dims", "5 dimensions");
        assertRejected(header(3, 1, 0).tensor("w", F32, 0).pad(32).zeros(32), "tensor w n_dims", "0 dimensions");
    }

    @Test
    void rejectsElementCountOverflow() {
        GgufBytes b = header(3, 1, 0).tensor("w", F32, 0, 1L << 32, 1L << 32).pad(32).zeros(32);
        assertRejected(b, "tensor w dims", "overflows");
    }

    @Test
    void rejectsRowThatIsNotWholeBlocks() {
        assertRejected(header(3, 1, 0).tensor("w", Q8_0, 0, 16, 4).pad(32).zeros(68), "tensor w dims[0]", "block size 32");
    }

    @Test
    void rejectsInvalidUtf8InKey() {
        byte[] key = {'b', 'a', 'd', (byte) 0xC3, '('};
        assertRejected(header(3, 0, 1).str(key).u32(UINT8).u8(1), "metadata key #0", "not valid UTF-8", "bad");
    }

    @Test
    void rejectsInvalidUtf8InStringValueNamingTheKey() {
        byte[] value = {(byte) 0xFF, 'x'};
        assertRejected(header(3, 0, 1).str("general.name").u32(STRING).str(value), "metadata general.name", "not valid UTF-8");
        assertRejected(header(3, 0, 1).str("tokenizer.ggml.tokens").u32(ARRAY).u32(STRING).u64(2).str("ok").str(value),
                "metadata tokenizer.ggml.tokens[1]", "not valid UTF-8");
    }

    @Test
    void rejectsInvalidUtf8InTensorName() {
        GgufBytes b = header(3, 1, 0).str(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}).u32(1).u64(8).u32(F32).u64(0)
                .pad(32).zeros(32);
        assertRejected(b, "tensor #0 name", "not valid UTF-8");
    }

    @Test
    void rejectsDuplicateKeys() {
        assertRejected(header(3, 0, 2).str("a.b").u32(UINT8).u8(1).str("a.b").u32(UINT8).u8(2), "metadata key a.b", "duplicate");
    }

    @Test
    void rejectsDuplicateTensorNames() {
        GgufBytes b = header(3, 2, 0).tensor("w", F32, 0, 8).tensor("w", F32, 32, 8).pad(32).zeros(64);
        assertRejected(b, "tensor w name", "duplicate tensor name");
    }

    @Test
    void rejectsUnknownValueType() {
        assertRejected(header(3, 0, 1).str("k").u32(13).u64(0), "metadata k type", "unknown value type id 13");
        assertRejected(header(3, 0, 1).str("k").u32(ARRAY).u32(77).u64(0), "metadata k element type", "unknown value type id 77");
    }

    @Test
    void rejectsBoolOtherThanZeroOrOne() {
        assertRejected(header(3, 0, 1).str("flag").u32(BOOL).u8(2), "metadata flag", "0 or 1");
    }

    @Test
    void rejectsArraysNestedTooDeep() {
        GgufBytes b = header(3, 0, 1).str("deep");
        b.u32(ARRAY);
        for (int i = 0; i < 5; i++) b.u32(ARRAY).u64(1);
        b.u32(UINT8).u64(1).u8(7);
        assertRejected(b, "metadata deep", "nested more than 4");
    }

    @Test
    void readsArraysNestedFourDeep() throws IOException {
        GgufBytes b = header(3, 0, 1).str("deep");
        b.u32(ARRAY);
        for (int i = 0; i < 3; i++) b.u32(ARRAY).u64(1);
        b.u32(INT16).u64(2).u16(-3).u16(4);
        try (GgufFile f = open(b)) {
            Object v = f.metadata().get("deep");
            for (int i = 0; i < 3; i++) v = ((Object[]) v)[0];
            assertArrayEquals(new long[] {-3, 4}, (long[]) v);
        }
    }

    @Test
    void honoursGeneralAlignment() throws IOException {
        GgufBytes b = header(3, 2, 1).str("general.alignment").u32(UINT32).u32(64)
                .tensor("a", F32, 0, 4).tensor("b", F32, 64, 4).pad(64);
        int dataStart = b.size();
        b.f32(1).f32(2).f32(3).f32(4).zeros(48).f32(5).f32(6).f32(7).f32(8);
        try (GgufFile f = open(b)) {
            assertEquals(64, f.alignment());
            assertEquals(dataStart, f.tensor("a").fileOffset());
            assertEquals(dataStart + 64, f.tensor("b").fileOffset());
            assertArrayEquals(new float[] {5, 6, 7, 8}, f.tensor("b").toFloats());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 48, 1 << 21})
    void rejectsAlignmentThatIsNotAPowerOfTwoWithinLimit(int alignment) {
        assertRejected(header(3, 0, 1).str("general.alignment").u32(UINT32).u32(alignment), "metadata general.alignment");
    }

    @Test
    void rejectsAlignmentThatIsNotAnInteger() {
        assertRejected(header(3, 0, 1).str("general.alignment").u32(STRING).str("32"), "metadata general.alignment", "integer");
    }

    @Test
    void readsF16AndBf16AsFloats() throws IOException {
        GgufBytes b = header(3, 2, 0).tensor("h", F16, 0, 2).tensor("b", BF16, 32, 2).pad(32)
                .u16(Float.floatToFloat16(1.5f)).u16(Float.floatToFloat16(-2f)).zeros(28)
                .u16(Float.floatToIntBits(3.25f) >>> 16).u16(Float.floatToIntBits(-0.5f) >>> 16);
        try (GgufFile f = open(b)) {
            assertArrayEquals(new float[] {1.5f, -2f}, f.tensor("h").toFloats());
            assertArrayEquals(new float[] {3.25f, -0.5f}, f.tensor("b").toFloats());
        }
    }

    @Test
    void matrixAndFloatsRefuseWhatTheyCannotRepresent() throws IOException {
        GgufBytes b = header(3, 2, 0).tensor("cube", F32, 0, 2, 2, 2).tensor("q", Q8_0, 32, 32).pad(32).zeros(32 + 34);
        try (GgufFile f = open(b)) {
            assertTrue(assertThrows(ModelFormatException.class, () -> f.tensor("cube").matrix()).getMessage()
                    .contains("cube has 3 dimensions"));
            assertTrue(assertThrows(ModelFormatException.class, () -> f.tensor("q").toFloats()).getMessage()
                    .contains("q has type Q8_0"));
            Matrix vector = f.tensor("q").matrix();
            assertEquals(1, vector.rows());
            assertEquals(32, vector.cols());
        }
    }

    @Test
    void closeUnmapsAndIsIdempotent() throws IOException {
        GgufFile f = open(smallFile());
        GgufTensor t = f.tensor("norm.weight");
        f.close();
        f.close();
        assertThrows(IllegalStateException.class, t::toFloats);
    }

    @Test
    void keepsUint64BitsAboveLongMax() throws IOException {
        try (GgufFile f = open(header(3, 0, 1).str("big").u32(UINT64).u64(-1L))) {
            assertEquals("18446744073709551615", Long.toUnsignedString(f.metadata().integer("big")));
        }
    }

    @Test
    void emptyFileIsRejected() {
        assertRejected(new GgufBytes(), "magic");
    }

    @Test
    void errorNamesTheByteOffset() {
        ModelFormatException e = assertRejected(header(3, 0, 1).str("k").u32(13).u64(0), "metadata k type");
        int typeOffset = 4 + 4 + 8 + 8 + 8 + "k".getBytes(StandardCharsets.UTF_8).length;
        assertTrue(e.getMessage().contains("at offset " + typeOffset), e.getMessage());
    }
}
