package org.attnface.trainer.options;

import picocli.CommandLine.Option;

/** {@code --seed}: every random choice of a command is a function of it. */
public final class SeedOption {
    @Option(names = "--seed", defaultValue = "1", description = "seed of all randomness: split, initial weights, batch order, augmentation, dropout, "
            + "bench's synthetic batch (default: ${DEFAULT-VALUE})")
    long seed;

    public long value() { return seed; }
}
