package org.attnface.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The engine's packages depend on each other without a cycle: the root package (Tensor,
 * autograd, Backends) sits above backend.cpu and backend.cuda, which see only the backend
 * package. Read from the compiled classes (every class name in each constant pool, which
 * covers field and method descriptors and generic signatures too), as jdeps does.
 */
class PackageCycleTest {
    private static final String ENGINE = "org/attnface/engine";
    private static final Pattern CLASS_NAME = Pattern.compile(ENGINE + "(?:/[a-z][a-z0-9_]*)*/[A-Z][A-Za-z0-9_$]*");

    @Test void enginePackagesHaveNoImportCycle() throws Exception {
        Path classes = Path.of(Tensor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Map<String, Map<String, String>> deps = packageDependencies(classes);
        // The scan must see the edges we know exist, or a broken scan would pass vacuously.
        assertTrue(deps.getOrDefault("org.attnface.engine", Map.of()).containsKey("org.attnface.engine.backend"), "root -> backend: " + deps);
        assertTrue(deps.getOrDefault("org.attnface.engine.backend.cpu", Map.of()).containsKey("org.attnface.engine.backend"), "cpu -> backend: " + deps);
        List<String> cycle = findCycle(deps);
        assertTrue(cycle.isEmpty(), () -> "package cycle in " + classes + ": " + describe(cycle, deps));
    }

    @Test void theCycleFinderFindsACycle() {
        Map<String, Map<String, String>> deps = new TreeMap<>();
        deps.put("a", new TreeMap<>(Map.of("b", "A uses B")));
        deps.put("b", new TreeMap<>(Map.of("c", "B uses C")));
        deps.put("c", new TreeMap<>(Map.of("a", "C uses A")));
        deps.put("d", new TreeMap<>(Map.of("a", "D uses A")));
        assertEquals(List.of("a", "b", "c", "a"), findCycle(deps));
        deps.get("c").clear();
        assertEquals(List.of(), findCycle(deps));
    }

    /** package -> (package it uses -> one "Class uses Class" example), packages with dots. */
    static Map<String, Map<String, String>> packageDependencies(Path classes) throws IOException {
        Map<String, Map<String, String>> deps = new TreeMap<>();
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".class"))::iterator) {
                ClassModel cm;
                try {
                    cm = ClassFile.of().parse(Files.readAllBytes(f));
                } catch (IOException e) {
                    throw new UncheckedIOException(f.toString(), e);
                }
                String self = cm.thisClass().asInternalName();
                if (!self.startsWith(ENGINE + "/")) continue;
                String from = packageOf(self);
                Map<String, String> out = deps.computeIfAbsent(from, k -> new TreeMap<>());
                for (PoolEntry e : cm.constantPool()) {
                    if (!(e instanceof Utf8Entry u)) continue;
                    Matcher m = CLASS_NAME.matcher(u.stringValue());
                    while (m.find()) {
                        String to = packageOf(m.group());
                        if (!to.equals(from)) out.putIfAbsent(to, simple(self) + " uses " + simple(m.group()));
                    }
                }
            }
        }
        return deps;
    }

    /** The first cycle found as [p, q, ..., p], or an empty list. */
    static List<String> findCycle(Map<String, Map<String, String>> deps) {
        Map<String, Integer> state = new TreeMap<>();  // 1 on the path, 2 done
        for (String start : deps.keySet()) {
            List<String> path = new ArrayList<>();
            List<String> cycle = visit(start, deps, state, path);
            if (!cycle.isEmpty()) return cycle;
        }
        return List.of();
    }

    private static List<String> visit(String p, Map<String, Map<String, String>> deps, Map<String, Integer> state, List<String> path) {
        Integer s = state.get(p);
        if (s != null && s == 2) return List.of();
        if (s != null && s == 1) {
            List<String> cycle = new ArrayList<>(path.subList(path.indexOf(p), path.size()));
            cycle.add(p);
            return cycle;
        }
        state.put(p, 1);
        path.add(p);
        for (String q : deps.getOrDefault(p, Map.of()).keySet()) {
            List<String> cycle = visit(q, deps, state, path);
            if (!cycle.isEmpty()) return cycle;
        }
        path.remove(path.size() - 1);
        state.put(p, 2);
        return List.of();
    }

    private static String describe(List<String> cycle, Map<String, Map<String, String>> deps) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i + 1 < cycle.size(); i++)
            b.append(i == 0 ? "" : ", ").append(cycle.get(i)).append(" -> ").append(cycle.get(i + 1))
                    .append(" (").append(deps.get(cycle.get(i)).get(cycle.get(i + 1))).append(')');
        return b.toString();
    }

    private static String packageOf(String internalName) {
        return internalName.substring(0, internalName.lastIndexOf('/')).replace('/', '.');
    }

    private static String simple(String internalName) {
        return internalName.substring(internalName.lastIndexOf('/') + 1);
    }
}
