package org.attnface.engine;

/** A NaN or Inf appeared; {@link #where()} names the op (forward or backward) that made it first. */
public final class NumericalFault extends RuntimeException {
    private final String where;

    public NumericalFault(String message, String where) {
        super(message);
        this.where = where;
    }

    public String where() { return where; }
}
