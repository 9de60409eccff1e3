package org.attnface.engine.backend.cpu;

import java.util.*;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.*;

/**
 * Timings of the memory-bound CPU primitives at the shapes of the two models (batch 64, 64x64):
 * min and median over repetitions in microseconds, the GB/s the minimum reaches (bytes each op
 * must move, inputs hot in cache), and the bytes the calling thread allocated per call (non-zero
 * means the Vector API code ran un-intrinsified). Each op is warmed until it allocates nothing,
 * at least 0.3 s. Not a test (no assertions); run it with:
 *
 * <pre>
 * ./mvnw -q -o test-compile -pl engine
 * java --add-modules jdk.incubator.vector -cp engine/target/test-classes:engine/target/classes \
 *   org.attnface.engine.backend.cpu.MemoryBoundTiming THREADS REPS [name filter]
 * </pre>
 */
public final class MemoryBoundTiming {
    static Backend be;
    static int reps;
    static String filter;
    static Random rnd = new Random(1);

    static Tensor t(int... shape) {
        Tensor x = Tensor.emptyPersistent(Device.CPU, shape);
        float[] d = new float[(int) x.numel()];
        for (int i = 0; i < d.length; i++) d[i] = (float) rnd.nextGaussian();
        x.copyFrom(d);
        return x;
    }

    static void time(String name, double mbytes, Runnable r) {
        if (filter != null && !name.contains(filter)) return;
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long w0 = System.nanoTime();
        for (int i = 0; ; i++) {
            long b0 = mx.getCurrentThreadAllocatedBytes();
            r.run();
            boolean clean = mx.getCurrentThreadAllocatedBytes() - b0 < 1024;
            long el = System.nanoTime() - w0;
            if ((i >= 5 && el > 300_000_000L && clean) || el > 5_000_000_000L) break;
        }
        double[] us = new double[reps];
        long a0 = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < reps; i++) { long t0 = System.nanoTime(); r.run(); us[i] = (System.nanoTime() - t0) / 1e3; }
        long alloc = (mx.getCurrentThreadAllocatedBytes() - a0) / reps;
        Arrays.sort(us);
        System.out.printf("%-48s min %9.1f  med %9.1f us  %6.1f GB/s(min) %8d B/call%n", name, us[0], us[reps / 2], mbytes * 1e6 / (us[0] * 1e3), alloc);
    }

    public static void main(String[] a) {
        int threads = Integer.parseInt(a[0]);
        reps = Integer.parseInt(a[1]);
        filter = a.length > 2 ? a[2] : null;
        Backends.setCpuThreads(threads);
        be = Backends.of(Device.CPU);
        System.out.println(be.describe());
        // pooling
        for (int[] s : new int[][] {{64,8,62,62,2,2,0},{64,10,60,60,2,2,0},{64,10,29,29,2,2,0},{64,10,26,26,2,2,0},{64,64,32,32,3,2,1}}) {
            PoolShape g = new PoolShape(s[0], s[1], s[2], s[3], s[4], s[4], s[5], s[6]);
            Tensor x = t(s[0], s[1], s[2], s[3]), y = t(s[0], s[1], g.p(), g.q()), dy = t(s[0], s[1], g.p(), g.q()), dx = t(s[0], s[1], s[2], s[3]);
            double xb = x.numel() * 4e-6, yb = y.numel() * 4e-6;
            be.maxPool2d(g, x, y);
            time("maxPool2d " + Arrays.toString(s), xb + yb, () -> be.maxPool2d(g, x, y));
            time("maxPool2dBackward " + Arrays.toString(s), 2 * xb + 2 * yb, () -> be.maxPool2dBackward(g, x, y, dy, dx));
        }
        for (int[] s : new int[][] {{64,10,62,62},{64,8,62,62},{64,10,29,29},{64,64,32,32},{64,512,2,2}}) {
            ConvShape g = new ConvShape(s[0], 3, s[2] + 2, s[3] + 2, s[1], 3, 3, 1, 0);
            Tensor dy = t(s), db = t(s[1]);
            time("conv2dBackwardBias " + Arrays.toString(s), dy.numel() * 4e-6, () -> be.conv2dBackwardBias(g, dy, db));
        }
        for (int[] s : new int[][] {{64,10,62,62},{64,64,32,32},{64,256,4,4}}) {
            Tensor x = t(s), y = t(s), dy = t(s), dx = t(s);
            double b = x.numel() * 4e-6;
            time("relu " + Arrays.toString(s), 2 * b, () -> be.relu(x, y));
            time("reluBackward " + Arrays.toString(s), 3 * b, () -> be.reluBackward(y, dy, dx));
            time("add " + Arrays.toString(s), 3 * b, () -> be.binary(BinaryOp.ADD, x, dy, dx));
        }
        for (int[] s : new int[][] {{64,10,26,26},{64,64,32,32},{64,64,16,16},{64,128,8,8},{64,256,4,4},{64,512,2,2}}) {
            int c = s[1];
            Tensor x = t(s), y = t(s), dy = t(s), dx = t(s), gm = t(c), bt = t(c), rm = t(c), rv = t(c), sm = t(c), si = t(c), dg = t(c), dbt = t(c);
                        be.fill(rv, 1f);
            double b = x.numel() * 4e-6;
            time("batchNormTrain " + Arrays.toString(s), 2 * b, () -> be.batchNormTrain(x, gm, bt, rm, rv, 0.1f, 1e-5f, y, sm, si));
            time("batchNormBackward " + Arrays.toString(s), 3 * b, () -> be.batchNormBackward(x, dy, gm, sm, si, dx, dg, dbt));
            time("batchNormInfer " + Arrays.toString(s), 2 * b, () -> be.batchNormInfer(x, gm, bt, rm, rv, 1e-5f, y));
        }
        for (int[] s : new int[][] {{64,64,3,3},{512,512,3,3},{32,1960}}) {
            Tensor x = t(s), y = t(s);
            time("axpy " + Arrays.toString(s), 3 * x.numel() * 4e-6, () -> be.axpy(1f, x, y));
        }
        {
            Tensor p = t(11181658), g = t(11181658), m = t(11181658), v = t(11181658);
            be.fill(v, 1f);
            time("sgdStep [11181658]", 5 * p.numel() * 4e-6, () -> be.sgdStep(p, g, m, 1e-9f, 0.9f, 0f));
            time("adamwStep [11181658]", 7 * p.numel() * 4e-6, () -> be.adamwStep(p, g, m, v, 1e-9f, 0.9f, 0.999f, 1e-8f, 0f, 3));
            time("fill [11181658]", p.numel() * 4e-6, () -> be.fill(g, 0f));
            time("copy [11181658]", 2 * p.numel() * 4e-6, () -> be.copy(p, g));
        }
        {
            Tensor x = t(64, 10, 13, 13), y = t(64, 10, 13, 13);
            time("dropout [64,10,13,13]", 2 * x.numel() * 4e-6, () -> be.dropout(x, 0.5f, 7, y));
            Tensor l = t(64, 1960), b = t(1, 1960), o = t(64, 1960), bo = t(1960);
            time("add row-broadcast [64,1960]+[1960]", 3 * l.numel() * 4e-6, () -> be.binary(BinaryOp.ADD, l, b, o));
            Tensor bs = t(1, 1960);
            time("sumTo [64,1960]->[1,1960]", l.numel() * 4e-6, () -> be.sumTo(l, bs));
        }
        {
            Tensor x = t(64, 3, 64, 64), grid = t(64, 64, 64, 2), y = t(64, 3, 64, 64), dy = t(64, 3, 64, 64), dgrid = t(64, 64, 64, 2);
            float[] gd = new float[(int) grid.numel()];
            for (int i = 0; i < gd.length; i++) gd[i] = (float) (rnd.nextDouble() * 2.2 - 1.1);
            grid.copyFrom(gd);
            double b = x.numel() * 4e-6;
            time("gridSample [64,3,64,64]", 2 * b + grid.numel() * 4e-6, () -> be.gridSample(x, grid, y));
            time("gridSampleBackward no-dx [64,3,64,64]", 2 * b + 2 * grid.numel() * 4e-6, () -> be.gridSampleBackward(x, grid, dy, null, dgrid));
            Tensor theta = t(64, 2, 3), dth = t(64, 2, 3);
            time("affineGrid [64,64,64]", grid.numel() * 4e-6, () -> be.affineGrid(theta, grid));
            time("affineGridBackward [64,64,64]", grid.numel() * 4e-6, () -> be.affineGridBackward(grid, dth));
        }
        System.exit(0);
    }
}
