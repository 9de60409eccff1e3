package org.attnface.trainer.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.Backends;
import org.attnface.engine.dist.GradientReducer;
import org.attnface.engine.dist.World;
import org.attnface.engine.optim.Sgd;
import org.attnface.engine.profile.OpStats;
import org.attnface.engine.profile.Profiler;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.LossWeights;
import org.attnface.model.Losses;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;

/**
 * Images per second of one model, mode, batch and image size, on synthetic data.
 *
 * <p>Input: one batch of standard-normal values (java.util.Random(seed)) and random gender
 * and age-bucket labels, uploaded once into persistent tensors and reused every step, as
 * bench/reference/bench_torch.py does: the numbers measure the model, not the data pipeline.
 *
 * <p>Training step: inside a TensorScope, loss (LossWeights.BENCHMARK: gender CE + age CE)
 * + zeroGrad + backward + SGD(lr 0.01, momentum 0.9). Inference: eval(), noGrad, predict().
 * Each repetition times stepsPerRep steps after warmup untimed steps, and synchronises the
 * device before reading the clock.
 */
public final class Throughput {
    public static final float LR = 0.01f, MOMENTUM = 0.9f;

    private final AgeGenderModel model;
    private final Device device;
    private final String mode;
    private final int batch, imageSize;
    private final Tensor images, genderLabels, ageLabels;
    private final Sgd optimizer;
    /** Under mpirun: this rank's share of the global batch, its gradients averaged over the ranks during backward. */
    private GradientReducer reducer;
    private int globalBatch;

    public Throughput(Arch arch, String mode, int batch, int imageSize, Device device, long seed) {
        this(ModelConfig.defaults(arch, imageSize), mode, batch, device, seed);
    }

    public Throughput(ModelConfig config, String mode, int batch, Device device, long seed) {
        if (!mode.equals("train") && !mode.equals("infer"))
            throw new IllegalArgumentException("unknown mode '" + mode + "' (train, infer)");
        this.device = device;
        this.mode = mode;
        this.batch = batch;
        this.imageSize = config.imageSize();
        this.model = Models.create(config, device, seed);
        int buckets = model.config().buckets().count();
        Random r = new Random(seed);
        float[] x = new float[batch * 3 * imageSize * imageSize];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] g = new float[batch], a = new float[batch];
        for (int i = 0; i < batch; i++) {
            g[i] = r.nextInt(2);
            a[i] = r.nextInt(buckets);
        }
        images = persistent(x, batch, 3, imageSize, imageSize);
        genderLabels = persistent(g, batch);
        ageLabels = persistent(a, batch);
        if (mode.equals("train")) {
            model.train();
            optimizer = new Sgd(model.parameters(), LR, MOMENTUM, 0f);
        } else {
            model.eval();
            optimizer = null;
        }
    }

    private Tensor persistent(float[] data, int... shape) {
        Tensor t = Tensor.emptyPersistent(device, shape);
        t.copyFrom(data);
        return t;
    }

    /**
     * Trains as one of the ranks of {@code world}: this batch is the rank's share of
     * {@code globalBatch}, and each step all-reduces the gradients as training does.
     */
    public Throughput distributed(World world, int globalBatch) {
        if (optimizer != null && world.distributed()) {
            reducer = new GradientReducer(world, model.parameters(), optimizer.flatGrads());
            this.globalBatch = globalBatch;
        }
        return this;
    }

    /** The all-reduce, or null in a single process or for inference. */
    public GradientReducer reducer() { return reducer; }

    /** One training or inference step. */
    public void step() {
        if (optimizer != null) {
            try (TensorScope scope = TensorScope.open()) {
                Losses losses = model.loss(images, genderLabels, ageLabels, LossWeights.BENCHMARK);
                optimizer.zeroGrad();
                if (reducer == null) {
                    losses.total().backward();
                } else {
                    try (var hook = reducer.beginBackward(batch, globalBatch)) {
                        losses.total().backward();
                    }
                    reducer.finish();
                }
                optimizer.step();
            }
        } else {
            try (TensorScope scope = TensorScope.open(); var noGrad = Autograd.noGrad()) {
                model.predict(images);
            }
        }
    }

    /** Runs warmup steps, then reps timed repetitions of stepsPerRep steps; returns images/s of each. */
    public double[] measure(int warmup, int reps, int stepsPerRep) {
        for (int i = 0; i < warmup; i++) step();
        Backends.of(device).synchronize();
        if (reducer != null) reducer.resetStats();
        double[] rates = new double[reps];
        for (int rep = 0; rep < reps; rep++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < stepsPerRep; i++) step();
            Backends.of(device).synchronize();
            rates[rep] = (double) batch * stepsPerRep / ((System.nanoTime() - t0) / 1e9);
        }
        return rates;
    }

    /**
     * Profiles {@code steps} steps (after one unprofiled step through the wrapper), writes
     * profile.txt and trace.json (the last step) into {@code dir}; returns the per-op table.
     */
    public String profile(int steps, Path dir) throws IOException {
        Profiler profiler = Profiler.install(device);
        try {
            step();
            for (int i = 0; i < steps; i++) {
                profiler.beginStep();
                step();
                profiler.endStep();
            }
            return String.format("%n%s %s, batch %d, %dx%d:%n", model.config().arch(), mode, batch, imageSize, imageSize)
                    + profiler.writeReport(dir);
        } finally {
            profiler.uninstall();
        }
    }

    /** Conv and GEMM FLOPs of one image's forward pass, counted by the profiler on a batch-1 inference step. */
    public static double forwardGflopPerImage(ModelConfig config, Device device, long seed) {
        int imageSize = config.imageSize();
        AgeGenderModel m = Models.create(config, device, seed);
        m.eval();
        Tensor x = Tensor.emptyPersistent(device, 1, 3, imageSize, imageSize);
        x.copyFrom(new float[3 * imageSize * imageSize]);
        Profiler profiler = Profiler.install(device);
        try (TensorScope scope = TensorScope.open(); var noGrad = Autograd.noGrad()) {
            profiler.beginStep();
            m.predict(x);
            profiler.endStep();
        } finally {
            profiler.uninstall();
        }
        double flops = 0;
        for (OpStats s : profiler.byShape()) flops += s.flops();
        return flops / 1e9;
    }
}
