package org.attnface.model;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The three networks of MODELS.md. Their lower-case names are what {@code --model}, config.json
 * and checkpoint metadata hold ({@link #toString()}, {@link #parse}).
 */
public enum Arch {
    /** The attentional CNN: a spatial transformer, then four convolutions. */
    ATTN,
    /** A BasicBlock ResNet (10, 18 or 34 layers). */
    RESNET,
    /** Both, their probabilities averaged. */
    ENSEMBLE;

    /** "attn", "resnet", "ensemble": the names {@link #parse} accepts, in this order. */
    public static final List<String> NAMES = Arrays.stream(values()).map(Arch::toString).toList();

    /** The exact lower-case name; anything else is an error that lists the names. */
    public static Arch parse(String name) {
        for (Arch a : values()) if (a.toString().equals(name)) return a;
        throw new IllegalArgumentException("unknown model '" + name + "': choose one of " + NAMES);
    }

    /** "attn, resnet or ensemble", for messages. */
    public static String choices() {
        return String.join(", ", NAMES.subList(0, NAMES.size() - 1)) + " or " + NAMES.getLast();
    }

    /** Whether the network holds a ResNet (resnet, ensemble): --resnet-depth and --resnet-width shape it. */
    public boolean hasResnet() { return this != ATTN; }

    /** Whether the network holds the attn network (attn, ensemble): --attn-width shapes it. */
    public boolean hasAttn() { return this != RESNET; }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
