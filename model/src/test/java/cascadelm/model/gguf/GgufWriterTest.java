package cascadelm.model.gguf;

import cascadelm.kernels.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GgufWriterTest {
    @TempDir
    Path dir;

    private GgufFile roundTrip(GgufWriter w) throws IOException {
        Path p = dir.resolve("out.gguf");
        w.write(p);
        return GgufFile.open(p);
    }

    @Test
    void roundTripsEveryMetadataType() throws IOException {
        GgufWriter w = new GgufWriter()
                .put("u8", GgufValueType.UINT8, 255)
                .put("i8", GgufValueType.INT8, -128)
                .put("u16", GgufValueType.UINT16, 65535)
                .put("i16", GgufValueType.INT16, -32768)
                .put("u32", GgufValueType.UINT32, 0xFFFF_FFFFL)
                .put("i32", GgufValueType.INT32, Integer.MIN_VALUE)
                .put("u64", GgufValueType.UINT64, -1L)
                .put("i64", GgufValueType.INT64, Long.MIN_VALUE)
                .put("f32", GgufValueType.FLOAT32, 1.5f)
                .put("f64", GgufValueType.FLOAT64, Math.PI)
                .put("bool", GgufValueType.BOOL, true)
                .put("string", GgufValueType.STRING, "héllo ✓")
                .put("int", 7)
                .put("long", 1L << 40)
                .put("float", -0.25f)
                .put("double", 1e300)
                .put("false", false)
                .put("strings", new String[] {"", "a", "日本"})
                .put("bools", new boolean[] {true, false})
                .put("ints", new int[] {-1, 2})
                .put("longs", new long[] {Long.MAX_VALUE, -5})
                .put("floats", new float[] {0.5f, -2f})
                .put("doubles", new double[] {0.1, 1e-300})
                .put("nested", new Object[] {new long[] {1, 2}, new String[] {"x"}, new Object[] {new int[] {3}}})
                .put("empty", new long[0])
                .putArray("u8s", GgufValueType.UINT8, new int[] {0, 200, 255})
                .putArray("u32s", GgufValueType.UINT32, new long[] {0, 4_000_000_000L});
        try (GgufFile f = roundTrip(w)) {
            Metadata m = f.metadata();
            assertEquals(255L, m.get("u8"));
            assertEquals(-128L, m.get("i8"));
            assertEquals(65535L, m.get("u16"));
            assertEquals(-32768L, m.get("i16"));
            assertEquals(0xFFFF_FFFFL, m.get("u32"));
            assertEquals((long) Integer.MIN_VALUE, m.get("i32"));
            assertEquals(-1L, m.get("u64"));
            assertEquals(Long.MIN_VALUE, m.get("i64"));
            assertEquals(1.5, m.get("f32"));
            assertEquals(Math.PI, m.get("f64"));
            assertEquals(true, m.get("bool"));
            assertEquals("héllo ✓", m.get("string"));
            assertEquals(7L, m.get("int"));
            assertEquals(1L << 40, m.get("long"));
            assertEquals(-0.25, m.get("float"));
            assertEquals(1e300, m.get("double"));
            assertEquals(false, m.get("false"));
            assertArrayEquals(new String[] {"", "a", "日本"}, m.strings("strings"));
            assertArrayEquals(new boolean[] {true, false}, (boolean[]) m.get("bools"));
            assertArrayEquals(new long[] {-1, 2}, m.integers("ints"));
            assertArrayEquals(new long[] {Long.MAX_VALUE, -5}, m.integers("longs"));
            assertArrayEquals(new double[] {0.5, -2}, m.numbers("floats"));
            assertArrayEquals(new double[] {0.1, 1e-300}, m.numbers("doubles"));
            Object[] nested = (Object[]) m.get("nested");
            assertArrayEquals(new long[] {1, 2}, (long[]) nested[0]);
            assertArrayEquals(new String[] {"x"}, (String[]) nested[1]);
            assertArrayEquals(new long[] {3}, (long[]) ((Object[]) nested[2])[0]);
            assertArrayEquals(new long[0], m.integers("empty"));
            assertArrayEquals(new long[] {0, 200, 255}, m.integers("u8s"));
            assertArrayEquals(new long[] {0, 4_000_000_000L}, m.integers("u32s"));
            // Insertion order is kept.
            assertEquals("u8", m.keys().iterator().next());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 8, 32, 64, 4096})
    void roundTripsTensorsOfSeveralTypesAtEachAlignment(int alignment) throws IOException {
        Random random = new Random(alignment);
        byte[] q8 = bytes(random, TensorType.Q8_0.bytesFor(64 * 3));
        byte[] q4k = bytes(random, TensorType.Q4_K.bytesFor(256 * 2));
        byte[] q5k = bytes(random, 176);
        byte[] f16 = bytes(random, 2 * 5);
        float[] floats = {1, -2, 3.5f};
        GgufWriter w = new GgufWriter().alignment(alignment).put("general.architecture", "llama")
                .putF32Tensor("f32", new long[] {3}, floats)
                .putTensor("q8", TensorType.Q8_0, new long[] {64, 3}, q8)
                .putTensor("f16", TensorType.F16, new long[] {5}, f16)
                .putTensor("q4k", TensorType.Q4_K, new long[] {256, 2}, q4k)
                .putTensor("q5k", GgmlType.Q5_K, new long[] {256, 1, 1}, MemorySegment.ofArray(q5k));
        try (GgufFile f = roundTrip(w)) {
            assertEquals(alignment, f.alignment());
            assertEquals(alignment == 32 ? null : (long) alignment, f.metadata().get("general.alignment"));
            assertEquals(java.util.List.of("f32", "q8", "f16", "q4k", "q5k"),
                    f.tensors().stream().map(GgufTensor::name).toList());
            assertArrayEquals(floats, f.tensor("f32").toFloats());
            assertArrayEquals(q8, f.tensor("q8").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(f16, f.tensor("f16").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(q4k, f.tensor("q4k").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(q5k, f.tensor("q5k").data().toArray(ValueLayout.JAVA_BYTE));
            assertEquals(3, f.tensor("q8").matrix().rows());
            assertEquals(TensorType.Q4_K, f.tensor("q4k").type());
            assertArrayEquals(new long[] {256, 1, 1}, f.tensor("q5k").dims());
            for (GgufTensor t : f.tensors()) {
                assertEquals(0, t.fileOffset() % alignment, t.name());
            }
            // ggml's loader expects the last tensor padded to the alignment as well.
            assertEquals(0, Files.size(f.path()) % alignment);
        }
    }

    @Test
    void writesTheSameBytesAsTheHandAssembledFile() throws IOException {
        GgufBytes hand = GgufFileTest.smallFile();
        byte[] q8 = new byte[68];
        MemorySegment.ofArray(q8).copyFrom(MemorySegment.ofArray(hand.bytes()).asSlice(hand.size() - 68));
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("llama.block_count", GgufValueType.UINT32, 2)
                .put("tokenizer.ggml.tokens", new String[] {"a", "é", "<s>"})
                .put("x.scores", new float[] {0.5f, -1.25f})
                .putF32Tensor("norm.weight", new long[] {8}, new float[] {1, 2, 3, 4, 5, 6, 7, 8})
                .putTensor("tok_embd.weight", TensorType.Q8_0, new long[] {32, 2}, q8);
        Path p = dir.resolve("w.gguf");
        w.write(p);
        byte[] expected = hand.pad(32).bytes();
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void rejectsMistakesWhereTheyAreMade() {
        GgufWriter w = new GgufWriter().put("a", 1);
        assertThrows(IllegalArgumentException.class, () -> w.put("a", 2));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", GgufValueType.UINT8, 256));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", GgufValueType.UINT32, -1));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", GgufValueType.INT32, 1.5));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", new java.util.ArrayList<>()));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", new Object[] {"not an array"}));
        assertThrows(IllegalArgumentException.class, () -> w.put("general.alignment", 64));
        assertThrows(IllegalArgumentException.class, () -> w.alignment(48));
        assertThrows(IllegalArgumentException.class,
                () -> w.putTensor("t", TensorType.F32, new long[] {4}, new byte[15]));
        assertThrows(IllegalArgumentException.class,
                () -> w.putTensor("t", TensorType.Q8_0, new long[] {16, 2}, new byte[34]));
        assertThrows(IllegalArgumentException.class,
                () -> w.putTensor("t", TensorType.F32, new long[] {0}, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", "lone \uD800 surrogate"));
        w.putTensor("t", TensorType.F32, new long[] {1}, new byte[4]);
        assertThrows(IllegalArgumentException.class,
                () -> w.putTensor("t", TensorType.F32, new long[] {1}, new byte[4]));
    }

    @Test
    void streamedTensorsAreProducedAtWriteTimeInOrder() throws IOException {
        java.util.List<String> produced = new java.util.ArrayList<>();
        byte[] a = bytes(new Random(1), 8);
        byte[] b = bytes(new Random(2), 34);
        GgufWriter w = new GgufWriter()
                .putTensor("a", TensorType.F16, new long[] {4}, () -> { produced.add("a"); return MemorySegment.ofArray(a); })
                .putTensor("b", TensorType.Q8_0, new long[] {32}, () -> { produced.add("b"); return MemorySegment.ofArray(b); });
        assertTrue(produced.isEmpty());
        try (GgufFile f = roundTrip(w)) {
            assertEquals(java.util.List.of("a", "b"), produced);
            assertArrayEquals(a, f.tensor("a").data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(b, f.tensor("b").data().toArray(ValueLayout.JAVA_BYTE));
        }
        GgufWriter wrong = new GgufWriter().putTensor("c", TensorType.F32, new long[] {2}, () -> MemorySegment.ofArray(new byte[4]));
        assertThrows(IllegalStateException.class, () -> wrong.write(dir.resolve("wrong.gguf")));
    }

    private static byte[] bytes(Random random, long n) {
        byte[] b = new byte[(int) n];
        random.nextBytes(b);
        return b;
    }
}
