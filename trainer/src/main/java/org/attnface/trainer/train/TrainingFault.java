package org.attnface.trainer.train;

/** Training stopped on purpose (a NaN/Inf, a config that cannot work); the message says what to do. */
public final class TrainingFault extends RuntimeException {
    public TrainingFault(String message) { super(message); }
}
