package cascadelm.model.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static cascadelm.model.gguf.GgufBytes.*;
import static org.junit.jupiter.api.Assertions.*;

class GgufLargeFileTest {
    @TempDir
    Path dir;

    /**
     * A 4 GiB F16 tensor (2^31 + 16 values, too many for a float[]) followed by a small F32 one, in a sparse file (only the header and the last bytes
     * are written), so that offsets past 2^31 and 2^32 are exercised without writing gigabytes.
     */
    @Test
    void readsTensorsBeyondTwoAndFourGigabytes() throws IOException {
        long bigElements = (1L << 31) + 16;  // 4 GiB + 32 bytes of F16
        byte[] header = header(3, 2, 1).str("general.name").u32(STRING).str("sparse")
                .tensor("big", F16, 0, bigElements)
                .tensor("small", F32, bigElements * 2, 4)
                .pad(32).bytes();
        long dataStart = header.length;
        long lastOfBig = dataStart + bigElements * 2 - 2;
        Path p = dir.resolve("large.gguf");
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(header));
            ch.write(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(Float.floatToFloat16(42.5f)).flip(), lastOfBig);
            ch.write(floats(1, 2, 3, 4), lastOfBig + 2);
        }
        assertEquals(dataStart + bigElements * 2 + 16, Files.size(p));

        try (GgufFile f = GgufFile.open(p)) {
            assertEquals("sparse", f.metadata().string("general.name"));
            GgufTensor big = f.tensor("big");
            assertEquals(bigElements * 2, big.byteSize());
            short last = big.data().get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                    big.byteSize() - 2);
            assertEquals(42.5f, Float.float16ToFloat(last));
            assertEquals(0, big.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 3L << 30));  // a hole reads as zero
            GgufTensor small = f.tensor("small");
            assertTrue(small.fileOffset() > 1L << 32);
            assertArrayEquals(new float[] {1, 2, 3, 4}, small.toFloats());
            // Refused before allocating, not an OutOfMemoryError.
            assertTrue(assertThrows(ModelFormatException.class, big::toFloats).getMessage().contains("too many"));
        }
    }

    private static ByteBuffer floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.flip();
    }
}
