package cascadelm.bench.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LengthsTest {
    @Test
    void readsSuffixesAsPowersOfTwo() {
        assertEquals(4096, Lengths.parse("--lengths", "4k"));
        assertEquals(4096, Lengths.parse("--lengths", " 4K "));
        assertEquals(1_048_576, Lengths.parse("--lengths", "1m"));
        assertEquals(1500, Lengths.parse("--lengths", "1500"));
        assertEquals(List.of(4096, 8192, 16384), Lengths.parseList("--lengths", "4k,8k,16k"));
    }

    @Test
    void rejectsWhatIsNotALengthNamingTheOption() {
        for (String bad : new String[]{"4x", "k", "-4k", "0", "1.5k", "", "99999999999k", "3000m"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Lengths.parseList("--lengths", bad), bad);
            assertTrue(e.getMessage().startsWith("--lengths"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Lengths.parseList("--lengths", "4k,,8k"));
    }

    @Test
    void formatsTheShortestWay() {
        assertEquals("4k", Lengths.format(4096));
        assertEquals("1m", Lengths.format(1 << 20));
        assertEquals("1500", Lengths.format(1500));
        assertEquals("1025", Lengths.format(1025));
    }
}
