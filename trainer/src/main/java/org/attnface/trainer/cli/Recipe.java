package org.attnface.trainer.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.attnface.model.Arch;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * A named set of {@code train} flags: {@code --recipe NAME} is the same as typing them, and a
 * flag given on the command line wins over the recipe's. {@code ensemble} is the README's
 * recipe (the seventh run in bench/RESULTS.md), the default when neither --recipe nor --model
 * is given; {@code quick} is a few-minute check of the same networks at 64x64 on 4,000 faces.
 */
enum Recipe {
    ENSEMBLE(Recipe.ENSEMBLE_FLAGS), QUICK(Recipe.QUICK_FLAGS);

    static final String ENSEMBLE_FLAGS = "--model ensemble --epochs 17 --split 0.8,0.05 --lr 0.05 --attn-lr 0.003 --attn-width 16"
            + " --image-size 128 --resnet-width 32 --loss-weights 1,1,0.5,0.5";
    static final String QUICK_FLAGS = "--model ensemble --epochs 3 --limit 4000 --lr 0.05 --attn-lr 0.003 --attn-width 16"
            + " --image-size 64 --resnet-width 32 --loss-weights 1,1,0.5,0.5";
    /** For {@code train --help} (an annotation needs a constant). */
    static final String HELP = "ensemble = " + ENSEMBLE_FLAGS + " (the README's, about 1.5-2 h on 2 cores); quick = " + QUICK_FLAGS
            + " (a few minutes)";

    /** The recipe used when the command line names neither a recipe nor a model. */
    static final Recipe DEFAULT = ENSEMBLE;

    final List<String> flags;

    Recipe(String flags) { this.flags = List.of(flags.split(" ")); }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }

    static Recipe parse(String name) {
        for (Recipe r : values()) if (r.toString().equals(name)) return r;
        throw new IllegalArgumentException("--recipe must be " + String.join(" or ", Arrays.stream(values()).map(Recipe::toString).toList())
                + ", not '" + name + "'");
    }

    /**
     * Whether the recipe's {@code flag} shapes a part that {@code arch} has: with {@code --model attn}
     * the ensemble recipe's --resnet-width does not apply, nor --attn-lr (the ensemble's attn member's rate).
     */
    static boolean appliesTo(String flag, Arch arch) {
        return switch (flag) {
            case "--attn-lr" -> arch == Arch.ENSEMBLE;
            case "--attn-width" -> arch.hasAttn();
            case "--resnet-width", "--resnet-depth", "--zero-init-residual" -> arch.hasResnet();
            default -> true;
        };
    }

    /**
     * The recipe the train command line asks for ({@code --recipe NAME}; {@link #DEFAULT} when it
     * gives neither --recipe nor --model; none when it gives only --model), applied to {@code spec}:
     * every option the recipe sets and the command line does not is given the recipe's value. Prints
     * what was applied and what the command line changed; returns the recipe, or null.
     */
    static Recipe apply(CommandSpec spec, String name, PrintStream log) {
        ParseResult given = spec.commandLine().getParseResult();
        if (name == null && given.hasMatchedOption("--model")) return null;
        Recipe r;
        try {
            r = name == null ? DEFAULT : parse(name);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        // The recipe's flags parsed by a train command line of their own: picocli converts them as it would the user's.
        CommandLine alone = new CommandLine(new TrainCommand());
        List<String> args = new ArrayList<>(r.flags);
        args.addAll(List.of("--out", "."));
        alone.parseArgs(args.toArray(String[]::new));
        String model = given.hasMatchedOption("--model") ? given.matchedOptionValue("--model", "") : alone.getParseResult().matchedOptionValue("--model", "");
        Arch arch = Arch.NAMES.contains(model) ? Arch.parse(model) : null;
        List<String> applied = new ArrayList<>(), overridden = new ArrayList<>(), left = new ArrayList<>();
        for (int i = 0; i < r.flags.size(); i += 2) {
            String flag = r.flags.get(i), value = r.flags.get(i + 1);
            OptionSpec mine = spec.findOption(flag);
            if (given.hasMatchedOption(flag)) {
                overridden.add(flag + " " + String.join(",", given.matchedOption(flag).stringValues()) + " (recipe: " + value + ")");
            } else if (arch != null && !appliesTo(flag, arch)) {
                left.add(flag + " " + value);
            } else {
                mine.setValue(alone.getCommandSpec().findOption(flag).getValue());
                applied.add(flag + " " + value);
            }
        }
        log.println("recipe " + r + ": " + String.join(" ", applied)
                + (overridden.isEmpty() ? "" : "; given here: " + String.join(", ", overridden))
                + (left.isEmpty() ? "" : "; not for --model " + model + ": " + String.join(", ", left))
                + String.format(Locale.ROOT, "; Java heap %,d MiB", Runtime.getRuntime().maxMemory() >> 20));
        return r;
    }
}
