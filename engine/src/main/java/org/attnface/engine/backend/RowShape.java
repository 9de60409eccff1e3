package org.attnface.engine.backend;

/** Softmax and the losses work on rows: x [n, ...] is n rows of c = numel / n classes. */
public record RowShape(int n, int c) {

    public static RowShape of(View x) {
        return new RowShape(x.dim(0), (int) (x.numel() / x.dim(0)));
    }

    /** Rows of logits whose labels hold one class index per row; fails naming both otherwise. */
    public static RowShape withLabels(String op, View logits, View labels) {
        if (labels.numel() != logits.dim(0))
            throw new IllegalArgumentException(op + ": labels " + labels.describe() + " do not match the rows of " + logits.describe());
        return of(logits);
    }
}
