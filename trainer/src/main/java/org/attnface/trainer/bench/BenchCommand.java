package org.attnface.trainer.bench;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.cuda.CudaBackend;
import org.attnface.engine.dist.GradientReducer;
import org.attnface.engine.dist.World;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.options.DeterministicOption;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.SeedOption;
import org.attnface.trainer.options.ThreadsOption;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code attnface bench}: training and inference images/s of the models on synthetic data
 * (no data set needed), median/min/max over timed repetitions, a table and JSON; with
 * {@code --profile}, the per-op table of one step and its Chrome trace.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Training and inference throughput (images/s) on synthetic inputs; needs no data set.",
                "Training step: forward + loss (gender CE + age CE) + backward + SGD(lr 0.01, momentum 0.9).",
                "Inference: eval mode, no gradients, predicted probabilities.",
                "Input: one batch of standard-normal images and random labels, reused every step",
                "(as bench/reference/bench_torch.py does, so the two compare one to one)."})
public final class BenchCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--model", split = ",", defaultValue = "attn,resnet,ensemble",
            description = "models, comma-separated: attn, resnet, ensemble (default: ${DEFAULT-VALUE})")
    List<String> models;

    @Option(names = "--batch", split = ",", defaultValue = "64", description = "batch sizes, comma-separated (default: ${DEFAULT-VALUE})")
    List<Integer> batches;

    @Option(names = "--image-size", split = ",", defaultValue = "64", description = "square image sizes, comma-separated (default: ${DEFAULT-VALUE})")
    List<Integer> imageSizes;

    @Option(names = "--resnet-depth", defaultValue = "18", description = "depth of the resnet and ensemble's ResNet: 10, 18 or 34 (default: ${DEFAULT-VALUE})")
    int resnetDepth;

    @Option(names = "--resnet-width", defaultValue = "64", description = "channels of that ResNet's first stage (default: ${DEFAULT-VALUE})")
    int resnetWidth;

    @Option(names = "--attn-width", defaultValue = "10", description = "channels of the attn network's trunk convolutions (default: ${DEFAULT-VALUE}, MODELS.md's)")
    int attnWidth;

    @Option(names = "--mode", split = ",", defaultValue = "train,infer", description = "train, infer or both (default: ${DEFAULT-VALUE})")
    List<String> modes;

    @Mixin DeviceOption device;

    @Mixin DeterministicOption deterministic;

    @Option(names = "--precision",
            description = "fp32, or tf32 on CUDA (TF32 tensor cores in cuDNN/cuBLAS); default fp32, on CUDA tf32 when ATTNFACE_TF32=1")
    String precision;

    @Option(names = "--warmup", defaultValue = "3", description = "untimed steps before timing (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--reps", defaultValue = "5", description = "timed repetitions; median, min and max are over these (default: ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--steps-per-rep", defaultValue = "5", description = "steps in one timed repetition (default: ${DEFAULT-VALUE})")
    int stepsPerRep;

    @Mixin ThreadsOption threads;

    @Mixin SeedOption seed;

    @Option(names = "--latency", paramLabel = "N", defaultValue = "0", description = "instead of throughput: time N single-image"
            + " predictions (batch 1) one by one per model and size, print p50, p99 and mean ms (as bench_torch.py/bench_ort.py --latency)")
    int latency;

    @Option(names = "--json", description = "also write the results as JSON to this file")
    Path json;

    @Option(names = "--profile", description = "after timing, profile 3 steps of each configuration: per-op table and trace.json")
    boolean profile;

    @Option(names = "--profile-dir", defaultValue = "runs/profile",
            description = "where --profile writes <model>-<mode>-b<batch>-s<size>/{profile.txt,trace.json} (default: ${DEFAULT-VALUE})")
    Path profileDir;

    @Override
    public Integer call() throws Exception {
        Device dev = checkOptions();
        if (dev == Device.CPU) deterministic.apply(dev, System.err);   // the note; on CUDA checkOptions applied it
        World world = World.get();
        int threadCount = threads.orDefault();   // under mpirun: this machine's cores / its ranks
        if (threadCount > 0) Backends.setCpuThreads(threadCount);
        // Under mpirun rank 0 prints for the job; every rank runs every step (the all-reduce is collective).
        PrintWriter out = world.isRoot() ? spec.commandLine().getOut() : new PrintWriter(java.io.OutputStream.nullOutputStream());
        List<Map<String, Object>> rankRows = new ArrayList<>();
        String backend = Backends.of(dev).describe();
        out.printf("attnface bench on %s (%s), %s, warm-up %d, %d reps x %d steps%n",
                backend, machine(dev), precision, warmup, reps, stepsPerRep);
        out.println("input: one batch of standard-normal images and random labels, reused every step; ResNet-" + resnetDepth + ", width " + resnetWidth
                + "; attn trunk width " + attnWidth);
        if (world.distributed())
            out.printf(Locale.ROOT, "%d ranks, %d CPU threads each: --batch is the global batch, split over the ranks; img/s below is the job's "
                    + "(global batch / the slowest rank's step), per-rank lines follow each row%n", world.size(), Backends.cpuThreads());
        if (latency == 0) out.println(header());
        out.flush();
        List<BenchResult> results = new ArrayList<>();
        List<Latency> latencies = new ArrayList<>();
        for (String model : latency > 0 ? models : List.<String>of()) {
            for (int size : imageSizes) {
                latencies.add(Latency.measure(config(model, size), dev, seed.value(), latency));
                out.println(latencies.getLast().line());
                out.flush();
            }
        }
        for (String model : latency > 0 ? List.<String>of() : models) {
            for (int size : imageSizes) {
                ModelConfig config = config(model, size);
                double gflop = Throughput.forwardGflopPerImage(config, dev, seed.value());
                for (int batch : batches) {
                    for (String mode : modes) {
                        int local = (int) ((long) (world.rank() + 1) * batch / world.size() - (long) world.rank() * batch / world.size());
                        if (local < 1) throw bad("--batch " + batch + " gives rank " + world.rank() + " of " + world.size() + " no images");
                        Throughput t = new Throughput(config, mode, local, dev, seed.value()).distributed(world, batch);
                        double[] rates = t.measure(warmup, reps, stepsPerRep);
                        StringBuilder perRank = new StringBuilder();
                        if (world.distributed()) rates = jobRates(world, t, local, batch, rates, model, mode, size, perRank, rankRows);
                        BenchResult r = new BenchResult(model, mode, batch, size, precision, warmup, reps, stepsPerRep, rates, gflop);
                        results.add(r);
                        out.println(row(r));
                        out.print(perRank);
                        out.flush();
                        if (profile) {
                            Path dir = profileDir.resolve(model + "-" + mode + "-b" + batch + "-s" + size + (world.rank() > 0 ? "-rank" + world.rank() : ""));
                            out.print(t.profile(3, dir));
                            out.println();
                            out.println(header());
                            out.flush();
                        }
                    }
                }
            }
        }
        // The whole process: the models, their activations and gradients, the JVM; what a machine needs free to run this.
        out.printf(Locale.ROOT, "peak resident memory (VmHWM): %d MiB; Java heap limit %d MiB; GC: %s%n",
                PeakMemory.residentMiB(), PeakMemory.maxHeapMiB(), PeakMemory.gcSummary());
        if (json != null && world.isRoot()) {
            Map<String, Object> report = report(dev, backend, results);
            if (world.distributed()) {
                report.put("ranks", world.size());
                report.put("perRank", rankRows);
            }
            if (!latencies.isEmpty()) report.put("latency", latencies.stream().map(Latency::toJson).toList());
            AtomicFile.writeString(json, Json.write(report) + "\n");
            out.println("results written to " + json);
        }
        out.flush();
        return 0;
    }

    /**
     * The job's images/s per repetition (training: global batch over the slowest rank's step
     * time; inference: the ranks' sum), and into {@code out} one line per rank: its share,
     * images/s, and the all-reduce time per step, all of it and the part spent waiting after
     * backward (what the overlap did not hide).
     */
    private static double[] jobRates(World world, Throughput t, int local, int batch, double[] rates, String model, String mode, int size,
                                     StringBuilder out, List<Map<String, Object>> rankRows) {
        int n = world.size(), k = rates.length, width = 4 + k;
        double[] all = new double[n * width];
        GradientReducer.Stats st = t.reducer() == null ? null : t.reducer().stats();
        all[world.rank() * width] = local;
        all[world.rank() * width + 1] = st == null ? 0 : st.commMsPerStep();
        all[world.rank() * width + 2] = st == null ? 0 : st.waitMsPerStep();
        all[world.rank() * width + 3] = st == null ? 0 : st.bytesPerStep();
        for (int i = 0; i < k; i++) all[world.rank() * width + 4 + i] = rates[i];
        world.sum(all, "the bench results");
        double[] job = new double[k];
        for (int i = 0; i < k; i++) {
            double slowest = 0;
            for (int r = 0; r < n; r++) slowest = Math.max(slowest, all[r * width] / all[r * width + 4 + i]);
            job[i] = mode.equals("train") ? batch / slowest : sumOver(all, n, width, 4 + i);
        }
        for (int r = 0; r < n; r++) {
            double[] mine = java.util.Arrays.copyOfRange(all, r * width + 4, r * width + 4 + k);
            java.util.Arrays.sort(mine);
            double median = mine[k / 2];
            out.append(String.format(Locale.ROOT, "  rank %d: %d images/step, %.1f img/s median%s%n", r, (int) all[r * width], median,
                    mode.equals("train") ? String.format(Locale.ROOT, ", all-reduce %.2f ms/step of which %.2f ms waiting after backward (%.2f MB)",
                            all[r * width + 1], all[r * width + 2], all[r * width + 3] / 1e6) : ""));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("model", model);
            row.put("mode", mode);
            row.put("imageSize", size);
            row.put("globalBatch", batch);
            row.put("rank", r);
            row.put("batch", (int) all[r * width]);
            row.put("imagesPerSecondMedian", median);
            row.put("allreduceMsPerStep", all[r * width + 1]);
            row.put("waitMsPerStep", all[r * width + 2]);
            row.put("allreduceBytesPerStep", all[r * width + 3]);
            rankRows.add(row);
        }
        return job;
    }

    private static double sumOver(double[] all, int n, int width, int col) {
        double s = 0;
        for (int r = 0; r < n; r++) s += all[r * width + col];
        return s;
    }

    private ModelConfig config(String model, int size) {
        Arch arch = Arch.parse(model);
        ModelConfig d = ModelConfig.defaults(arch, size);
        return new ModelConfig(arch, size, d.buckets(), resnetDepth, resnetWidth, attnWidth, d.attention(), d.feedGender(),
                d.detachGender(), d.dropout());
    }

    private Device checkOptions() {
        for (String m : models)
            if (!Arch.NAMES.contains(m)) throw bad("unknown model '" + m + "' (" + String.join(", ", Arch.NAMES) + ")");
        for (String m : modes)
            if (!m.equals("train") && !m.equals("infer")) throw bad("unknown mode '" + m + "' (train, infer)");
        for (int b : batches) if (b < 1) throw bad("--batch must be >= 1, got " + b);
        for (int s : imageSizes)
            if (s < ModelConfig.MIN_IMAGE_SIZE) throw bad("--image-size must be >= " + ModelConfig.MIN_IMAGE_SIZE + ", got " + s);
        if (!ModelConfig.RESNET_DEPTHS.contains(resnetDepth)) throw bad("--resnet-depth must be 10, 18 or 34, got " + resnetDepth);
        if (resnetWidth < 1 || resnetWidth > ModelConfig.MAX_RESNET_WIDTH)
            throw bad("--resnet-width must be in [1, " + ModelConfig.MAX_RESNET_WIDTH + "], got " + resnetWidth);
        if (attnWidth < 1 || attnWidth > ModelConfig.MAX_ATTN_WIDTH)
            throw bad("--attn-width must be in [1, " + ModelConfig.MAX_ATTN_WIDTH + "], got " + attnWidth);
        if (warmup < 0) throw bad("--warmup must be >= 0, got " + warmup);
        if (reps < 1) throw bad("--reps must be >= 1, got " + reps);
        if (stepsPerRep < 1) throw bad("--steps-per-rep must be >= 1, got " + stepsPerRep);
        if (threads.value() != null && threads.value() < 1) throw bad("--threads must be >= 1, got " + threads.value());
        Device dev;
        try {
            dev = device.parse();
        } catch (IllegalArgumentException e) {
            throw bad(e.getMessage());
        }
        if (latency < 0) throw bad("--latency must be >= 0 runs, got " + latency);
        String p = precision == null ? "fp32" : precision.toLowerCase(Locale.ROOT);
        if (!p.equals("fp32") && !p.equals("tf32"))
            throw bad("unsupported precision '" + precision + "': fp32, or tf32 on CUDA");
        if (p.equals("tf32") && dev == Device.CPU) throw bad("--precision tf32 needs --device cuda (the CPU computes in fp32)");
        if (dev == Device.CUDA && !Backends.cudaAvailable())
            throw bad("--device cuda: no usable NVIDIA GPU, driver or CUDA libraries were found on this machine");
        if (dev == Device.CUDA && Backends.raw(Device.CUDA) instanceof CudaBackend cuda) {
            if (precision != null) cuda.setTf32(p.equals("tf32"));
            deterministic.apply(dev, System.err);
            p = cuda.tf32() ? "tf32" : "fp32";
        }
        precision = p;   // the precision actually used, for the table and the JSON
        return dev;
    }

    private ParameterException bad(String message) {
        return new ParameterException(spec.commandLine(), "bench: " + message);
    }

    static String header() {
        return String.format(Locale.ROOT, "%-9s %-6s %5s %5s %13s %9s %9s %9s %9s",
                "model", "mode", "batch", "size", "img/s median", "min", "max", "ms/step", "GFLOP/s");
    }

    static String row(BenchResult r) {
        return String.format(Locale.ROOT, "%-9s %-6s %5d %5d %13.1f %9.1f %9.1f %9.2f %9.1f",
                r.model(), r.mode(), r.batch(), r.imageSize(), r.median(), r.min(), r.max(),
                1000.0 * r.batch() / r.median(), r.achievedGflops());
    }

    private Map<String, Object> report(Device dev, String backend, List<BenchResult> results) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("engine", "attnface");
        m.put("version", version());
        m.put("device", dev.name().toLowerCase(Locale.ROOT));
        m.put("deviceName", machine(dev));
        m.put("backend", backend);
        m.put("threads", Backends.cpuThreads());
        m.put("precision", precision);
        m.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        m.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
        m.put("resnetDepth", resnetDepth);
        m.put("resnetWidth", resnetWidth);
        m.put("attnWidth", attnWidth);
        m.put("input", "one batch of standard-normal images and random labels, reused every step");
        m.put("peakResidentMiB", PeakMemory.residentMiB());
        m.put("maxHeapMiB", PeakMemory.maxHeapMiB());
        m.put("gc", PeakMemory.gcSummary());
        List<Object> list = new ArrayList<>();
        for (BenchResult r : results) list.add(r.toJson());
        m.put("results", list);
        return m;
    }

    private static String version() {
        String v = BenchCommand.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** The CPU model name from /proc/cpuinfo (Linux), or the backend's own description on a GPU. */
    static String machine(Device dev) {
        if (dev != Device.CPU) return Backends.of(dev).describe();
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " processors";
    }
}
