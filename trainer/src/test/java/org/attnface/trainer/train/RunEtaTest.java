package org.attnface.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The run-level ETA printed after each epoch. */
class RunEtaTest {
    @Test void remainingEpochsAtTheMeanEpochTime() {
        // 2 epochs took 20 minutes: 15 more take 150 minutes (give or take the test's own run time).
        long start = System.nanoTime() - 20L * 60 * 1_000_000_000L;
        String eta = MetricsLog.runEta(start, 2, 15);
        assertTrue(eta.matches("; run ETA 2h30m \\(\\d\\d:\\d\\d\\)"), eta);
    }

    @Test void nothingAfterTheLastEpoch() {
        assertEquals("", MetricsLog.runEta(System.nanoTime(), 3, 0));
    }

    @Test void progressTimeFormats() {
        assertEquals("0m59s", Progress.time(59));
        assertEquals("1h05m", Progress.time(3900));
        assertEquals("-", Progress.time(Double.NaN));
    }
}
