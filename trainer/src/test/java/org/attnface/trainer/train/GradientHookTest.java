package org.attnface.trainer.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.trainer.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The epoch loop's per-step gradient hook: called once per step, in order, on the gradients the optimiser then applies. */
class GradientHookTest {
    @TempDir static Path tmp;
    static Path faces;

    @BeforeAll
    static void data() throws IOException {
        faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 48, 5);
    }

    /** 60 images -> 42 train -> 5 steps/epoch at batch 8; 2 epochs; SGD without weight decay, so zero gradients leave the weights as initialised. */
    static TrainConfig config() {
        return new TrainConfig(faces.toString(), Arch.ATTN, 2, 8, 0.01f, 0f, OptimizerKind.SGD, 0.9f, 0f, 0, 32, 36, "0,10,20,30,40,50,60,70",
                18, 64, ModelConfig.ATTN_WIDTH, true, true, false, 1f, 1f, 0.5f, 0f, false, "cpu", 2, 3L, 0, 0, 1, 0f, 0.7, 0.15,
                tmp.resolve("cache").toString(), -1L);
    }

    @Test
    void seesEveryStepAndWhatItLeavesIsWhatTheOptimiserApplies() throws IOException {
        TrainConfig cfg = config();
        long params = Models.create(cfg.modelConfig(), Device.CPU, cfg.seed()).parameterCount();
        List<Long> steps = new ArrayList<>();
        boolean[] nonZero = {false};
        EpochLoop.GradientHook zero = (step, grads) -> {
            steps.add(step);
            assertEquals(params, grads.numel(), "the flat buffer holds every parameter's gradient");
            for (float g : grads.toArray()) nonZero[0] |= g != 0;
            grads.backend().fill(grads, 0f);
        };
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Trainer.Result r = Trainer.run(cfg, tmp.resolve("run"), false, zero, quiet);

        List<Long> expected = new ArrayList<>();
        for (long s = 0; s < r.steps(); s++) expected.add(s);
        assertEquals(10, r.steps());
        assertEquals(expected, steps, "one call per step, in step order");
        assertTrue(nonZero[0], "the hook sees the backward pass's gradients");
        Checkpoint.Loaded last = Checkpoint.read(tmp.resolve("run").resolve("last.safetensors"));
        var init = Models.create(cfg.modelConfig(), Device.CPU, cfg.seed()).namedParameters();
        for (var e : init.entrySet()) {
            Tensor t = e.getValue();
            assertArrayEquals(t.toArray(), last.contents().tensors().get(e.getKey()).values(), 0f,
                    e.getKey() + ": zeroed gradients must leave the weights as initialised");
        }
    }

}
