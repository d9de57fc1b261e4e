package cascadelm.model.generate;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f};

    @Test
    void greedyTakesTheLargestLogit() {
        assertEquals(1, Sampler.greedy().sample(LOGITS));
    }

    @Test
    void topKOfOneIsGreedyAtAnyTemperature() {
        Sampler s = new Sampler(5.0f, 1, 1.0f, 7);
        for (int i = 0; i < 100; i++) assertEquals(1, s.sample(LOGITS));
    }

    @Test
    void sameSeedGivesSameSequence() {
        Sampler a = new Sampler(1.0f, 0, 1.0f, 123);
        Sampler b = new Sampler(1.0f, 0, 1.0f, 123);
        for (int i = 0; i < 200; i++) assertEquals(a.sample(LOGITS), b.sample(LOGITS));
    }

    @Test
    void frequenciesFollowTheSoftmaxAtTemperatureOne() {
        Sampler s = new Sampler(1.0f, 0, 1.0f, 99);
        int draws = 200_000;
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < draws; i++) counts[s.sample(LOGITS)]++;
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l);
        for (int i = 0; i < LOGITS.length; i++) {
            double p = Math.exp(LOGITS[i]) / z;
            double sd = Math.sqrt(p * (1 - p) / draws);
            // 5 standard deviations: a correct sampler fails this about once in 3 million runs.
            assertEquals(p, counts[i] / (double) draws, 5 * sd + 1e-9, "token " + i);
        }
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        // softmax of LOGITS: token 1 ≈ 0.52, token 2 ≈ 0.32; p = 0.6 keeps exactly tokens 1 and 2.
        Sampler s = new Sampler(1.0f, 0, 0.6f, 5);
        boolean sawTwo = false;
        for (int i = 0; i < 2000; i++) {
            int t = s.sample(LOGITS);
            assertTrue(t == 1 || t == 2, "sampled " + t + " outside the nucleus");
            sawTwo |= t == 2;
        }
        assertTrue(sawTwo);
    }

    @Test
    void rejectsImpossibleSettings() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(Float.NaN, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, -3, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 1.5f, 0));
    }
}
