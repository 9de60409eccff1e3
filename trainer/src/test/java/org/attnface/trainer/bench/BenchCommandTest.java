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

    /** --latency: one batch-1 entry per model and size, percentiles in order; every report has the process's peak resident memory. */
    @Test
    @SuppressWarnings("unchecked")
    void latencyTimesSingleImagePredictionsAndTheReportHasPeakMemory(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("latency.json");
        Run run = bench("--model", "attn,resnet", "--image-size", "32", "--resnet-width", "8", "--latency", "7", "--threads", "1",
                "--json", json.toString());
        System.out.print(run.out());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("attn      latency batch 1   32x32: p50 "), run.out());
        assertTrue(!run.out().contains("img/s median"), "no throughput table with --latency: " + run.out());
        Map<String, Object> report = (Map<String, Object>) Json.parse(Files.readString(json));
        List<Object> lat = (List<Object>) report.get("latency");
        assertEquals(2, lat.size());
        for (Object o : lat) {
            Map<String, Object> l = (Map<String, Object>) ((Map<String, Object>) o).get("latencyMs");
            double min = ((Number) l.get("min")).doubleValue(), p50 = ((Number) l.get("p50")).doubleValue(), p99 = ((Number) l.get("p99")).doubleValue();
            assertEquals(7, ((Number) l.get("runs")).intValue());
            assertTrue(0 < min && min <= p50 && p50 <= p99, l.toString());
        }
        assertTrue(((List<Object>) report.get("results")).isEmpty());
        // this JVM has loaded the model classes and touched some heap: tens of MiB at least (Linux; -1 elsewhere)
        long rss = ((Number) report.get("peakResidentMiB")).longValue();
        Assumptions.assumeTrue(rss != -1, "no /proc/self/status on this OS");
        assertTrue(rss > 20, "peak resident " + rss + " MiB");
        assertTrue(run.out().contains("peak resident memory (VmHWM): "), run.out());
    }

    /** Nearest rank: of 1..100 ms, p50 is 50 and p99 is 99; of one run, every percentile is that run. */
    @Test
    void latencyPercentilesAreNearestRank() {
        double[] ms = new double[100];
        for (int i = 0; i < 100; i++) ms[99 - i] = i + 1;
        Latency l = new Latency("attn", 64, ms);
        assertEquals(50, l.percentile(50));
        assertEquals(99, l.percentile(99));
        assertEquals(1, l.percentile(0));
        assertEquals(50.5, l.mean(), 1e-12);
        assertEquals(3.5, new Latency("attn", 64, new double[] {3.5}).percentile(99));
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
