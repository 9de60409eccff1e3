package org.attnface.engine.dist;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Module;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.Sgd;

/**
 * The process that {@link DataParallelTest} starts, alone or under mpirun: a small network
 * without batch norm (conv, ReLU, conv, ReLU, global pool, linear) trained for a few SGD steps on
 * seeded random images, each global batch split across the ranks as the trainer splits it.
 * Writes the flat gradient of the first step and the final weights (rank 0) as raw floats.
 *
 * <p>Arguments: OUT_PREFIX STEPS GLOBAL_BATCH BUCKET_BYTES
 */
public final class DataParallelCheck {
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]), batch = Integer.parseInt(args[2]);
        long bucketBytes = Long.parseLong(args[3]);
        Backends.setCpuThreads(1);
        World world = World.get();
        Module net = new Sequential(new Conv2d(Device.CPU, 3, 8, 3, 1, 1, true), new Layers.ReLU(),
                new Conv2d(Device.CPU, 8, 16, 3, 2, 1, true), new Layers.ReLU(), new Layers.GlobalAvgPool(), new Linear(Device.CPU, 16, 5));
        net.initialize(7);
        Sgd opt = new Sgd(net.parameters(), 0.1f, 0.9f, 1e-4f);
        GradientReducer reducer = new GradientReducer(world, net.parameters(), opt.flatGrads(), bucketBytes, bucketBytes, true);
        if (world.isRoot()) System.out.println("buckets " + Arrays.toString(reducer.bucketSizes()));
        for (int step = 0; step < steps; step++) {
            // The global batch: images and labels seeded by the step; this rank's share is [from, to).
            int from = world.rank() * batch / world.size(), to = (world.rank() + 1) * batch / world.size();
            float[] x = new float[batch * 3 * 12 * 12], y = new float[batch];
            for (int i = 0; i < x.length; i++) x[i] = 2 * Rng.uniform(Rng.derive(11, step), i) - 1;
            for (int i = 0; i < batch; i++) y[i] = (int) (5 * Rng.uniform(Rng.derive(12, step), i));
            try (TensorScope s = TensorScope.open()) {
                int n = to - from;
                Tensor xs = Tensor.of(Arrays.copyOfRange(x, from * 3 * 144, to * 3 * 144), n, 3, 12, 12);
                Tensor ys = Tensor.of(Arrays.copyOfRange(y, from, to), n);
                opt.zeroGrad();
                Tensor loss = Ops.crossEntropy(net.forward(xs), ys);
                if (world.distributed()) {
                    try (var hook = reducer.beginBackward(n, batch)) {
                        loss.backward();
                    }
                    reducer.finish();
                } else {
                    loss.backward();
                }
                if (step == 0 && world.isRoot()) write(out.resolveSibling(out.getFileName() + ".grad"), opt.flatGrads().toArray());
                opt.step();
            }
        }
        if (world.isRoot()) {
            write(out.resolveSibling(out.getFileName() + ".params"), opt.flatParams().toArray());
            GradientReducer.Stats st = reducer.stats();
            System.out.printf("steps %d, %d buckets, %.3f ms all-reduce/step, %.3f ms waited/step%n", st.steps(), st.buckets(),
                    st.commMsPerStep(), st.waitMsPerStep());
        }
        world.barrier("the end of the check");
        world.close();
    }

    private static void write(Path file, float[] v) throws IOException {
        try (DataOutputStream o = new DataOutputStream(Files.newOutputStream(file))) {
            for (float f : v) o.writeInt(Float.floatToRawIntBits(f));
        }
    }
}
