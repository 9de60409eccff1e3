package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.ops.Ops;
import org.attnface.model.attn.AttnCnn;
import org.junit.jupiter.api.Test;

/** The spatial transformer starts as the identity. */
class AttentionTest {

    @Test
    void thetaStartsAtIdentityAndTheSampledImageIsTheInput() {
        for (int size : new int[] {64, 128}) {
            AttnCnn m = (AttnCnn) Models.create(Fixtures.config("attn", size), Device.CPU, 11);
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = Fixtures.images(12, 2, size);
                Tensor theta = m.theta(x);
                // weights are exactly 0, so theta is exactly the bias.
                assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, theta.toArray(), 0f);
                // align_corners = false: the identity grid hits pixel centres (2i+1)/S - 1, so the
                // bilinear weights are 1 and 0 up to float rounding of the coordinates (~1e-7 relative).
                float[] sampled = Ops.gridSample(x, Ops.affineGrid(theta, size, size)).toArray(), in = x.toArray();
                float worst = 0;
                for (int i = 0; i < in.length; i++) worst = Math.max(worst, Math.abs(sampled[i] - in[i]));
                assertEquals(0f, worst, 1e-5f, "largest |sampled - input| at " + size + "x" + size);
            }
        }
    }

    /** The share of the sampled region inside the image: 1 at identity and for zooms in, 0 once translated off the image. */
    @Test
    void insideFractionSeesTheRegionLeaveTheImage() {
        assertEquals(1.0, AttnCnn.insideFraction(new float[] {1, 0, 0, 0, 1, 0}));
        assertEquals(1.0, AttnCnn.insideFraction(new float[] {0.5f, 0, 0.4f, 0, 0.5f, -0.4f}));
        assertEquals(0.0, AttnCnn.insideFraction(new float[] {1.90f, 3.20f, 1.23f, 0.27f, -0.31f, 2.82f}));   // the collapsed run's bias
        assertEquals(0.0, AttnCnn.insideFraction(new float[] {1, 0, 3, 0, 1, 0}));
        // shifted right by half the image: grid columns u = -1..0 land inside (5 of 9)
        assertEquals(5 / 9.0, AttnCnn.insideFraction(new float[] {1, 0, 1, 0, 1, 0}), 1e-12);
        // the mean over images
        assertEquals(0.5, AttnCnn.insideFraction(new float[] {1, 0, 0, 0, 1, 0, 1, 0, 3, 0, 1, 0}), 1e-12);
        assertEquals(Double.NaN, AttnCnn.insideFraction(new float[0]));
    }
}
