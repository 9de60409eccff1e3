package org.attnface.engine.dist;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * What waiting costs a rank: rank 1 arrives 3 s late to an all-reduce, and rank 0 reports the CPU
 * time its thread burned while it waited, in a blocking MPI_Allreduce and in World's
 * MPI_Iallreduce polled with MPI_Test and parked 0.2 ms between polls (what the trainer does).
 * The reason the gradient all-reduce is not run by a thread blocked in MPI. Run by
 * bench/dist-compare.sh: {@code mpirun -np 2 java -cp engine/target/classes:engine/target/test-classes
 * org.attnface.engine.dist.WaitCpuCheck}.
 */
public final class WaitCpuCheck {
    public static void main(String[] args) throws Exception {
        World w = World.get();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (boolean blocking : new boolean[] {true, false}) {
            w.barrier("the start");
            if (w.rank() == 1) Thread.sleep(3000);
            long cpu0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
            if (blocking) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment buf = a.allocate(4);
                    Mpi m = w.mpi();
                    m.allreduceInPlace(buf, 1, m.floatType, m.opSum, m.commWorld);
                }
            } else {
                w.sum(new double[1], "the polled all-reduce");
            }
            if (w.isRoot()) System.out.printf("rank 0 waiting for rank 1 in %s: %.2f s wall, %.2f s CPU%n",
                    blocking ? "a blocking MPI_Allreduce" : "MPI_Iallreduce + MPI_Test, parked 0.2 ms", (System.nanoTime() - t0) / 1e9,
                    (mx.getCurrentThreadCpuTime() - cpu0) / 1e9);
        }
        w.barrier("the end");
        w.close();
    }
}
