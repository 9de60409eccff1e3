package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.attnface.trainer.options.DataOption;
import org.junit.jupiter.api.Test;

import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The options several commands share read the same in every command's --help (they are declared once, in trainer.options). */
class SharedOptionsTest {
    static final Set<String> SHARED = Set.of("--device", "--threads", "--deterministic", "--data", "--cache-dir", "--seed");

    @Test
    void eachSharedOptionHasOneHelpTextAndDefaultEverywhere() {
        Map<String, Set<String>> texts = new TreeMap<>();
        Map<String, Set<String>> commands = new TreeMap<>();
        for (Map.Entry<String, CommandLine> c : new CommandLine(new Main()).getSubcommands().entrySet()) {
            for (OptionSpec o : c.getValue().getCommandSpec().options()) {
                String name = o.longestName();
                if (!SHARED.contains(name)) continue;
                String text = String.join(" ", o.description()) + " | default " + o.defaultValue() + " | required " + o.required();
                if (c.getKey().equals("train") && name.equals("--data")) {
                    // optional on --resume: its own declaration, the shared text first
                    assertTrue(text.startsWith(DataOption.DESCRIPTION + ";"), text);
                    continue;
                }
                texts.computeIfAbsent(name, k -> new TreeSet<>()).add(text);
                commands.computeIfAbsent(name, k -> new TreeSet<>()).add(c.getKey());
            }
        }
        assertEquals(SHARED, texts.keySet(), "every shared option is in some command");
        texts.forEach((name, t) -> assertEquals(1, t.size(), name + " differs between " + commands.get(name) + ": " + t));
        assertEquals(Set.of("bench", "eval", "experiments", "explain", "predict", "train"), commands.get("--device"));
    }
}
