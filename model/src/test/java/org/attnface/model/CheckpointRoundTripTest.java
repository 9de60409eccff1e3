package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A network saved with its config as safetensors metadata rebuilds into the same predictions. */
class CheckpointRoundTripTest {

    @Test
    void ensembleRebuiltFromItsCheckpointPredictsTheSame(@TempDir Path dir) throws Exception {
        ModelConfig c = new ModelConfig(Arch.ENSEMBLE, 64, AgeBuckets.parse("0,15,30,45,60"), 10, 16, 10, true, true, false, 0.5f);
        AgeGenderModel saved = Models.create(c, Device.CPU, 101);
        Tensor x = Fixtures.images(102, 2, 64);
        try (TensorScope s = TensorScope.open()) {   // one training step moves the running statistics off their defaults
            saved.loss(x, Fixtures.labels(103, 2, 2), Fixtures.labels(104, 2, 5), LossWeights.DEFAULT).total().backward();
        }
        Path file = dir.resolve("ensemble.safetensors");
        Safetensors.write(file, saved.stateDict(), saved.config().toMetadata());

        Map<String, String> meta = Safetensors.read(file).metadata();
        ModelConfig fromFile = ModelConfig.fromMetadata(meta);
        fromFile.checkCompatible(c);
        AgeGenderModel loaded = Models.create(fromFile, Device.CPU, 999);
        try (TensorScope s = TensorScope.open()) {
            assertFalse(Arrays.equals(saved.predict(x).ageProbs().toArray(), loaded.predict(x).ageProbs().toArray()),
                    "a different seed must give a different network before loading");
        }
        Safetensors.load(file, loaded.stateDict());
        try (TensorScope s = TensorScope.open()) {
            Prediction a = saved.predict(x), b = loaded.predict(x);
            assertArrayEquals(a.genderProbs().toArray(), b.genderProbs().toArray(), 0f);
            assertArrayEquals(a.ageProbs().toArray(), b.ageProbs().toArray(), 0f);
        }
        String msg = assertThrows(IllegalArgumentException.class,
                () -> fromFile.checkCompatible(ModelConfig.defaults(Arch.ENSEMBLE, 64))).getMessage();
        assertTrue(msg.contains("0,15,30,45,60"), msg);
    }
}
