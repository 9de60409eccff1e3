package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32: a torchvision-layout state dict written by PyTorch itself
 * (bench/reference/export_state_dict.py: safetensors.torch.save_file of model.state_dict(),
 * with each batch norm's num_batches_tracked as an I64 scalar) loads into attnface's ResNet,
 * which then predicts what PyTorch predicted for the same input. Runs where the prepared
 * venv ~/.cache/attnface/venv-torch (or $ATTNFACE_TORCH_PYTHON) has torch and safetensors.
 */
class TorchStateDictTest {
    static final int STEPS = 3;

    static Path torchPython() {
        String env = System.getenv("ATTNFACE_TORCH_PYTHON");
        Path p = env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache/attnface/venv-torch/bin/python");
        return Files.isExecutable(p) ? p : null;
    }

    static Path referenceScript(String name) {
        for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
            Path s = d.resolve("bench/reference").resolve(name);
            if (Files.isRegularFile(s)) return s;
        }
        return null;
    }

    @Test
    void torchvisionStateDictWithI64CountersLoadsAndPredictsAsPyTorch(@TempDir Path dir) throws Exception {
        Path python = torchPython(), script = referenceScript("export_state_dict.py");
        assumeTrue(python != null, "no PyTorch venv at ~/.cache/attnface/venv-torch (or $ATTNFACE_TORCH_PYTHON): cannot make a PyTorch state dict");
        assumeTrue(script != null, "bench/reference/export_state_dict.py not found above " + System.getProperty("user.dir"));
        Process p = new ProcessBuilder(python.toString(), script.toString(), "--arch", "resnet", "--image-size", "32", "--width", "8",
                "--steps", Integer.toString(STEPS), "--out", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "export_state_dict.py timed out");
        assumeTrue(!out.contains("ModuleNotFoundError"), "the venv lacks torch or safetensors: " + out);
        assertEquals(0, p.exitValue(), out);

        Path state = dir.resolve("state.safetensors");
        Map<String, Safetensors.Entry> tensors = Safetensors.read(state).tensors();
        int counters = 0;
        for (var e : tensors.entrySet()) {
            if (!e.getKey().endsWith("num_batches_tracked")) {
                assertEquals(Safetensors.Dtype.F32, e.getValue().dtype(), e.getKey());
                continue;
            }
            counters++;
            assertEquals(Safetensors.Dtype.I64, e.getValue().dtype(), e.getKey());
            assertArrayEquals(new int[0], e.getValue().shape(), e.getKey());
            assertArrayEquals(new long[] {STEPS}, e.getValue().longs(), e.getKey() + " read exactly");
        }
        assertEquals(20, counters, "ResNet-18 has 20 batch norms (1 + 8 blocks x 2 + 3 downsamples)");
        assertTrue(tensors.containsKey("layer2.0.downsample.1.running_var"), "torchvision names");

        ModelConfig c = new ModelConfig(Arch.RESNET, 32, AgeBuckets.decades(), 18, 8, 10, true, true, false, 0.5f);
        AgeGenderModel model = Models.create(c, Device.CPU, 7);
        Safetensors.load(state, model.stateDict());   // every name and shape fits; the counters are not unexpected

        Map<String, Safetensors.Entry> probe = Safetensors.read(dir.resolve("probe.safetensors")).tensors();
        Safetensors.Entry x = probe.get("x");
        try (TensorScope s = TensorScope.open()) {
            Prediction got = model.predict(Tensor.of(Device.CPU, x.values(), x.shape()));
            // float32 ResNet-18 at 32x32, two engines: summation order differs, about 1e-6 relative per layer
            assertArrayEquals(probe.get("gender_probs").values(), got.genderProbs().toArray(), 1e-4f, "gender probabilities as PyTorch's");
            assertArrayEquals(probe.get("age_probs").values(), got.ageProbs().toArray(), 1e-4f, "age probabilities as PyTorch's");
        }
    }
}
