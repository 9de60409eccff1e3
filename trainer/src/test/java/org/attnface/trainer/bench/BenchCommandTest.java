package org.attnface.trainer.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Backends;
import org.attnface.engine.io.Json;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/** `attnface bench` on a tiny configuration: the JSON it writes, the profile it writes, the options it refuses. */
class BenchCommandTest {

    record Run(int exitCode, String out, String err) {}

    static Run bench(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = new CommandLine(new BenchCommand()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    @SuppressWarnings("unchecked")
    void writesMedianMinMaxPerModelAndModeAsJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.json");
        Run run = bench("--model", "attn", "--batch", "2", "--image-size", "64", "--warmup", "0", "--reps", "1",
                "--steps-per-rep", "1", "--threads", "2", "--json", json.toString());
        System.out.print(run.out());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("img/s median"), run.out());
        Map<String, Object> report = (Map<String, Object>) Json.parse(Files.readString(json));
        assertEquals("attnface", report.get("engine"));
        assertEquals("cpu", report.get("device"));
        assertEquals("fp32", report.get("precision"));
        assertEquals(2, ((Number) report.get("threads")).intValue());
        List<Object> results = (List<Object>) report.get("results");
        assertEquals(2, results.size());
        for (int i = 0; i < 2; i++) {
            Map<String, Object> r = (Map<String, Object>) results.get(i);
            assertEquals("attn", r.get("model"));
            assertEquals(i == 0 ? "train" : "infer", r.get("mode"));
            assertEquals(2, ((Number) r.get("batch")).intValue());
            assertEquals(64, ((Number) r.get("imageSize")).intValue());
            assertEquals(1, ((Number) r.get("reps")).intValue());
            assertEquals(1, ((List<Object>) r.get("repImagesPerSecond")).size());
            Map<String, Object> ips = (Map<String, Object>) r.get("imagesPerSecond");
            double median = ((Number) ips.get("median")).doubleValue();
            assertTrue(median > 0, "median " + median);
            assertEquals(median, ((Number) ips.get("min")).doubleValue(), 1e-9, "one rep: min = median");
            assertEquals(median, ((Number) ips.get("max")).doubleValue(), 1e-9, "one rep: max = median");
            // MODELS.md: 0.0144 GFLOP per image forward (conv and linear), counted here by the profiler
            double gflop = ((Number) r.get("forwardGflopPerImage")).doubleValue();
            assertEquals(0.0144, gflop, 0.0005, "forward GFLOP per image of attn at 64x64");
        }
    }

    @Test
    void profileWritesTheOpTableAndAChromeTrace(@TempDir Path dir) throws Exception {
        Run run = bench("--model", "attn", "--mode", "train", "--batch", "2", "--warmup", "0", "--reps", "1",
                "--steps-per-rep", "1", "--profile", "--profile-dir", dir.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("conv2dForward") && run.out().contains("by op type"), run.out());
        Path trace = dir.resolve("attn-train-b2-s64").resolve("trace.json");
        assertTrue(Files.exists(trace), "no " + trace);
        Object parsed = Json.parse(Files.readString(trace));
        assertTrue(((Map<?, ?>) parsed).get("traceEvents") instanceof List<?> l && l.size() > 20);
    }

    @Test
    void refusesUnknownPrecisionModelAndDeviceWithAMessage() {
        Run bf16 = bench("--precision", "bf16", "--model", "attn");
        assertEquals(2, bf16.exitCode());
        assertTrue(bf16.err().contains("unsupported precision 'bf16': fp32, or tf32 on CUDA"), bf16.err());
        Run tf32 = bench("--precision", "tf32", "--model", "attn");
        assertEquals(2, tf32.exitCode());
        assertTrue(tf32.err().contains("tf32 needs --device cuda"), tf32.err());
        Run model = bench("--model", "vgg");
        assertEquals(2, model.exitCode());
        assertTrue(model.err().contains("unknown model 'vgg'"), model.err());
        Run device = bench("--device", "tpu", "--model", "attn");
        assertEquals(2, device.exitCode());
        assertTrue(device.err().contains("unknown device 'tpu'"), device.err());
    }

    @Test
    void cudaWithoutAGpuSaysSo() {
        Assumptions.assumeFalse(Backends.cudaAvailable(), "a CUDA device is present: nothing to refuse");
        Run cuda = bench("--device", "cuda", "--model", "attn");
        assertEquals(2, cuda.exitCode());
        assertTrue(cuda.err().contains("no usable NVIDIA GPU"), cuda.err());
    }
}
