package cascadelm.bench.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PasskeyScoreTest {
    @Test
    void readsTheFirstNumber() {
        assertEquals("68012", PasskeyScore.firstNumber(" 68012. Remember it."));
        assertEquals("68012", PasskeyScore.firstNumber(" 6 8 0 1 2."));
        assertEquals("1234", PasskeyScore.firstNumber("1234 5678"));
        assertEquals("12", PasskeyScore.firstNumber("12 3 4"));
        assertEquals("", PasskeyScore.firstNumber(" green. The sky"));
    }

    @Test
    void correctOnlyWhenTheFirstNumberIsTheKey() {
        assertTrue(PasskeyScore.correct(" 68012.", "68012"));
        assertTrue(PasskeyScore.correct("6 8 0 1 2", "68012"));
        assertFalse(PasskeyScore.correct(" 680123", "68012"), "a longer number is wrong");
        assertFalse(PasskeyScore.correct(" 6801", "68012"), "a prefix is wrong");
        assertFalse(PasskeyScore.correct(" 12345 or 68012", "68012"), "only the first number counts");
        assertFalse(PasskeyScore.correct("the grass is green", "68012"));
    }
}
