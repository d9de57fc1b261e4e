package cascadelm.bench.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class StreamingPerplexityTest {
    @Test
    void logSoftmaxSurvivesHugeLogits() {
        float[] logits = {1000f, 1000f, -1000f, 0f};
        assertEquals(Math.log(0.5), StreamingPerplexity.logSoftmax(logits, 0, 4, 0), 1e-12);
        assertEquals(-2000 - Math.log(2), StreamingPerplexity.logSoftmax(logits, 0, 4, 2), 1e-9);
    }

    @Test
    void binsAverageConsecutivePredictions() {
        double[][] bins = StreamingPerplexity.binned(new double[]{1, 3, 5, 7, 9}, 2);
        assertEquals(3, bins.length);
        assertArrayEquals(new double[]{1.5, 2}, bins[0], 1e-12);   // tokens 1 and 2
        assertArrayEquals(new double[]{3.5, 6}, bins[1], 1e-12);
        assertArrayEquals(new double[]{5, 9}, bins[2], 1e-12);     // the short last bin
    }
}
