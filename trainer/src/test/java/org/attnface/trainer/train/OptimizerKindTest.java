package org.attnface.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.optim.AdamW;
import org.attnface.engine.optim.Sgd;
import org.junit.jupiter.api.Test;

class OptimizerKindTest {
    @Test
    void namesRoundTripAndABadNameListsTheValidOnes() {
        for (OptimizerKind k : OptimizerKind.values()) assertEquals(k, OptimizerKind.parse(k.toString()));
        assertEquals(List.of("sgd", "adamw"), OptimizerKind.NAMES);
        assertEquals("unknown optimizer 'adam' (sgd or adamw)",
                assertThrows(IllegalArgumentException.class, () -> OptimizerKind.parse("adam")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> OptimizerKind.parse("SGD"), "names are lower case, as config.json holds them");
    }

    @Test
    void eachNameBuildsItsOptimiser() {
        List<Tensor> p = List.of(Tensor.zeros(Device.CPU, 3).requiresGrad(true));
        assertInstanceOf(Sgd.class, OptimizerKind.SGD.create(p, 0.01f, 0.9f, 0f));
        assertInstanceOf(AdamW.class, OptimizerKind.ADAMW.create(p, 0.001f, 0.9f, 0f));
        assertTrue(OptimizerKind.SGD.defaultLr == 0.01f && OptimizerKind.ADAMW.defaultLr == 1e-3f, "train's --lr defaults");
    }
}
