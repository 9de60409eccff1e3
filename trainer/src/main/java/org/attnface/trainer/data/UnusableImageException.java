package org.attnface.trainer.data;

/** An image file that is skipped; the message is the one-line reason shown to the user. */
public final class UnusableImageException extends Exception {
    public UnusableImageException(String reason) { super(reason); }

    public UnusableImageException(String reason, Throwable cause) { super(reason, cause); }
}
