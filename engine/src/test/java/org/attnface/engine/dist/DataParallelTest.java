package org.attnface.engine.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training under Open MPI against one process, on a network without batch norm
 * ({@link DataParallelCheck}): the all-reduced gradient of a global batch split over ranks is the
 * gradient of the whole batch, and the same seed and rank count give the same weights bit for bit.
 */
class DataParallelTest {
    static final String MAIN = DataParallelCheck.class.getName();

    @TempDir Path dir;

    @BeforeAll static void needsMpirun() {
        assumeTrue(Mpirun.find() != null, "mpirun (Open MPI) is not on the PATH: .ci/run installs openmpi-bin; skipping the multi-process tests");
    }

    private float[] run(String name, int ranks, int steps, int batch, long bucketBytes, String suffix, String... mca) throws Exception {
        Path out = dir.resolve(name);
        List<String> cmd = new ArrayList<>();
        if (ranks > 0) cmd.addAll(Mpirun.prefix(ranks, mca));
        cmd.addAll(Mpirun.java(MAIN, out.toString(), Integer.toString(steps), Integer.toString(batch), Long.toString(bucketBytes)));
        Mpirun.Result r = Mpirun.run(cmd, dir.resolve(name + ".log"), 120);
        assertEquals(0, r.exitCode(), () -> String.join(" ", cmd) + "\n" + r.output());
        return read(dir.resolve(name + suffix));
    }

    static float[] read(Path f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f));
        float[] v = new float[b.remaining() / 4];
        for (int i = 0; i < v.length; i++) v[i] = b.getFloat();
        return v;
    }

    /**
     * Float32 sums of the two half-batch means differ from the whole batch's mean by a few ulps of
     * the terms; where terms cancel, the element is small next to the largest, hence the
     * relative bound with a floor of 1e-7 of the largest gradient.
     */
    static void assertSameGradient(float[] expected, float[] got) {
        assertEquals(expected.length, got.length);
        double max = 0, diff2 = 0, norm2 = 0;
        for (float e : expected) max = Math.max(max, Math.abs(e));
        assertTrue(max > 0, "the reference gradient is all zero");
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(got[i] - expected[i]);
            diff2 += d * d;
            norm2 += (double) expected[i] * expected[i];
            int at = i;
            assertTrue(d <= 1e-5 * Math.abs(expected[i]) + 1e-7 * max,
                    () -> "gradient element " + at + ": " + got[at] + " vs one process's " + expected[at]);
        }
        assertTrue(Math.sqrt(diff2 / norm2) <= 1e-5, "relative difference " + Math.sqrt(diff2 / norm2));
    }

    @Test void twoRanksAllReduceTheGradientOfTheWholeBatch() throws Exception {
        float[] one = run("one", 0, 1, 12, 256, ".grad");
        // 256-byte buckets: the 1,909 floats go out in several all-reduces, started during backward.
        float[] two = run("two", 2, 1, 12, 256, ".grad");
        assertSameGradient(one, two);
    }

    @Test void threeRanksOverTcpWithAnUnevenSplitGiveTheSameGradient() throws Exception {
        // 10 images over 3 ranks: 3, 3 and 4, each rank's mean weighted by its share of the batch.
        float[] one = run("one", 0, 1, 10, 1 << 20, ".grad");
        float[] three = run("three", 3, 1, 10, 1024, ".grad", "--mca", "btl", "tcp,self");
        assertSameGradient(one, three);
    }

    @Test void sameSeedAndRanksGiveBitIdenticalWeights() throws Exception {
        float[] a = run("a", 2, 6, 12, 512, ".params");
        float[] b = run("b", 2, 6, 12, 512, ".params");
        float[] tcp = run("tcp", 2, 6, 12, 512, ".params", "--mca", "btl", "tcp,self");
        assertArrayEquals(a, b, "two runs of the same seed on 2 ranks");
        assertArrayEquals(a, tcp, "shared memory and TCP transports");
        float[] one = run("one", 0, 6, 12, 512, ".params");
        double diff = 0;
        for (int i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - one[i]));
        assertTrue(diff < 1e-4, "6 SGD steps on 2 ranks drift " + diff + " from one process");
    }
}
