package org.attnface.engine.dist;

/** A failure of the multi-process set-up or of a collective: the message names the call, the rank or what differs. */
public final class DistException extends RuntimeException {
    public DistException(String message) { super(message); }

    public DistException(String message, Throwable cause) { super(message, cause); }
}
