package org.attnface.trainer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attnface.engine.Tensor;
import org.junit.jupiter.api.Test;

class ClipGradientsTest {
    @Test
    void scalesToTheMaximumNormOnlyWhenAbove() {
        Tensor g = Tensor.of(new float[] {3, 4, 0, 0}, 4);           // norm 5
        assertEquals(5.0, EpochLoop.clipGradients(g, 1f), 1e-6);
        assertArrayEquals(new float[] {0.6f, 0.8f, 0, 0}, g.toArray(), 1e-6f);
        Tensor small = Tensor.of(new float[] {0.3f, 0.4f}, 2);       // norm 0.5: untouched
        assertEquals(0.5, EpochLoop.clipGradients(small, 1f), 1e-6);
        assertArrayEquals(new float[] {0.3f, 0.4f}, small.toArray());
    }
}
