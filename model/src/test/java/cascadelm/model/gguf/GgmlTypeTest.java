package cascadelm.model.gguf;

import cascadelm.kernels.TensorType;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class GgmlTypeTest {
    @Test
    void everyKernelTypeMatchesGgmlLayout() {
        for (TensorType t : TensorType.values()) {
            GgmlType g = GgmlType.of(t);
            assertNotNull(g, t.name());
            assertEquals(t.name(), g.name());
            assertEquals(t.blockSize, g.blockSize, t.name());
            assertEquals(t.bytesPerBlock, g.bytesPerBlock, t.name());
            assertEquals(t, g.supported());
        }
    }

    @Test
    void idsAreUniqueAndRemovedIdsAreUnknown() {
        Set<Integer> ids = new HashSet<>();
        for (GgmlType g : GgmlType.values()) assertTrue(ids.add(g.id), g.name());
        for (int removed : new int[] {4, 5, 31, 32, 33, 36, 37, 38, -1, 1000}) {
            assertNull(GgmlType.byId(removed), "id " + removed);
        }
        assertEquals(GgmlType.Q5_K, GgmlType.byId(13));
        assertNull(GgmlType.Q5_K.supported());
    }
}
