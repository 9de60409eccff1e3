package org.attnface.model;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.Backends;

/**
 * Rough forward timings per image at batch 64 on the CPU backend, for each network:
 * training-mode forward with the loss (graph recorded), that plus backward, and predict
 * (eval, no gradients). Not a test (no assertions); run it with:
 *
 * <pre>
 * ./mvnw -q -o test-compile -pl model
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp model/target/test-classes:model/target/classes:engine/target/classes \
 *   org.attnface.model.ForwardTiming [batch] [repeats]
 * </pre>
 */
public final class ForwardTiming {
    public static void main(String[] args) throws Exception {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        System.out.printf("CPU threads %d, batch %d, median of %d after 1 warm-up, ms per image%n", Backends.cpuThreads(), batch, repeats);
        System.out.printf("%-9s %12s %16s %12s%n", "model", "train fwd", "train fwd+bwd", "eval fwd");
        for (String arch : new String[] {"attn", "resnet", "ensemble"}) {
            AgeGenderModel m = Models.create(ModelConfig.defaults(Arch.parse(arch), 64), Device.CPU, 1);
            Tensor x = Fixtures.smoothImages(1, batch, 64), g = Fixtures.labels(2, batch, 2), a = Fixtures.labels(3, batch, 8);
            double fwd = median(repeats, () -> {
                try (TensorScope s = TensorScope.open()) { m.loss(x, g, a, LossWeights.BENCHMARK).total().item(); }
            });
            double step = median(repeats, () -> {
                try (TensorScope s = TensorScope.open()) {
                    m.zeroGrad();
                    Losses l = m.loss(x, g, a, LossWeights.BENCHMARK);
                    l.total().backward();
                    l.total().item();
                }
            });
            double eval = median(repeats, () -> {
                try (TensorScope s = TensorScope.open()) { m.predict(x).ageProbs().toArray(); }
            });
            System.out.printf("%-9s %12.3f %16.3f %12.3f%n", arch, fwd / batch, step / batch, eval / batch);
        }
        if (!Autograd.isRecording()) throw new IllegalStateException("noGrad leaked");
    }

    private static double median(int repeats, Runnable r) {
        r.run();
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            r.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        java.util.Arrays.sort(ms);
        return ms[repeats / 2];
    }
}
