package cascadelm.model.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Which instance of decode.cu's split-K kernel a model shape runs (no GPU needed). */
class SplitKAttentionTest {
    @Test
    void picksTheSmallestInstanceThatFits() {
        assertEquals("attn_kv_partial_g4_p1", SplitKAttention.partialKernel(4, 64));    // Llama 3.2 1B
        assertEquals("attn_kv_partial_g4_p2", SplitKAttention.partialKernel(4, 128));   // Llama 3.1 8B
        assertEquals("attn_kv_partial_g1_p1", SplitKAttention.partialKernel(1, 16));
        assertEquals("attn_kv_partial_g2_p1", SplitKAttention.partialKernel(2, 32));
        assertEquals("attn_kv_partial_g4_p1", SplitKAttention.partialKernel(3, 32));    // one head idle
        assertEquals("attn_kv_partial_g8_p2", SplitKAttention.partialKernel(7, 66));    // 33 pairs: two per lane
        assertEquals("attn_kv_partial_g8_p4", SplitKAttention.partialKernel(8, 256));
    }

    @Test
    void decodeKernelsTakeTheSameInstancesWithFewerWarpsForTheLargest() {
        assertEquals("attn_decode_g4_p1", SplitKAttention.decodeKernel(4, 64));
        assertEquals(256, SplitKAttention.decodeThreads(4, 64));
        assertEquals("attn_decode_g4_p2", SplitKAttention.decodeKernel(3, 128));
        assertEquals(256, SplitKAttention.decodeThreads(3, 128));   // 4 heads × 2 pairs: 8 warps
        assertEquals("attn_decode_g8_p2", SplitKAttention.decodeKernel(8, 128));
        assertEquals(128, SplitKAttention.decodeThreads(8, 128));   // 16 > 8: 4 warps
        assertEquals(256, SplitKAttention.decodeThreads(2, 256));   // 2 heads × 4 pairs = 8: 8 warps
        assertEquals(128, SplitKAttention.decodeThreads(8, 256));
    }

    @Test
    void refusesShapesNoInstanceTakes() {
        assertThrows(IllegalArgumentException.class, () -> SplitKAttention.partialKernel(9, 64));
        assertThrows(IllegalArgumentException.class, () -> SplitKAttention.partialKernel(4, 258));
    }
}
