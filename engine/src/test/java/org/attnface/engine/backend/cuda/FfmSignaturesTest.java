package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Every FFM signature we bind against the prototype in the library's own C headers (the wheels
 * ship them in nvidia/NAME/include): the number of parameters and, for each parameter and the
 * result, its kind (a pointer or handle: 8 bytes; size_t and long long: 8-byte integer; float;
 * int and enums: 4-byte integer). A wrong descriptor passes the symbol look-up and then
 * corrupts the call: this catches it without a GPU.
 */
class FfmSignaturesTest {
    /** The C kind of a type as written in a prototype. */
    enum Kind { POINTER, LONG, INT, FLOAT, DOUBLE, VOID }

    record Prototype(Kind result, List<Kind> params, String text) {}

    /** All the headers' text beside a library (lib/../include), comments removed. */
    static String headers(Path library) throws IOException {
        Path include = library.getParent().getParent().resolve("include");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(include), "skipped: no C headers beside " + library + " (" + include + ")");
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> s = Files.list(include)) {
            for (Path h : s.filter(p -> p.toString().endsWith(".h")).sorted().toList()) sb.append(Files.readString(h)).append('\n');
        }
        return clean(sb.toString());
    }

    /** C text without comments and preprocessor lines. */
    static String clean(String c) {
        return c.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ").replaceAll("(?m)^\\s*#.*$", " ");
    }

    /** Handle types declared as pointers to structs (typedef struct X *Y;), plus the CUDA stream. */
    static Set<String> pointerTypedefs(String text) {
        Set<String> out = new HashSet<>(Set.of("cudaStream_t"));
        Matcher m = Pattern.compile("typedef\\s+(?:struct\\s+\\w+|void)\\s*\\*\\s*(\\w+)").matcher(text);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    static Kind kind(String type, Set<String> pointers) {
        String t = type.replaceAll("\\b(const|CUDNN_DEPRECATED|CUDNNWINAPI|CUBLASAPI|CUBLASWINAPI|extern|struct)\\b", " ").trim();
        if (t.contains("*") || t.contains("[")) return Kind.POINTER;
        String base = t.split("\\s+")[0];
        if (pointers.contains(base)) return Kind.POINTER;
        if (t.matches("(unsigned\\s+)?long\\s+long(\\s+int)?|size_t|int64_t|uint64_t")) return Kind.LONG;
        if (t.equals("float")) return Kind.FLOAT;
        if (t.equals("double")) return Kind.DOUBLE;
        if (t.equals("void")) return Kind.VOID;
        return Kind.INT;  // int and the enums (status codes, data types, algorithms)
    }

    /** The prototype of {@code name}: the declaration's result type and its parameters' types (names dropped). */
    static Prototype prototype(String text, String name, Set<String> pointers) {
        Matcher m = Pattern.compile("\\b" + Pattern.quote(name) + "\\s*\\(").matcher(text);
        while (m.find()) {
            int from = Math.max(text.lastIndexOf(';', m.start()), text.lastIndexOf('}', m.start())) + 1;
            String before = text.substring(from, m.start()).trim();
            int close = text.indexOf(')', m.end());
            String args = text.substring(m.end(), close).trim();
            String resultType = before.replaceAll("\\b(CUDNN_DEPRECATED|CUDNNWINAPI|CUBLASAPI|CUBLASWINAPI|extern|NCCL_API)\\b", " ").trim();
            boolean declaration = !resultType.isEmpty() && resultType.matches("[\\w\\s*]+") && text.substring(close + 1).trim().startsWith(";");
            if (!declaration) continue;  // a call, a macro or a mention, not the prototype
            List<Kind> params = new ArrayList<>();
            if (!args.isEmpty() && !args.equals("void")) {
                for (String a : args.split(",")) {
                    String p = a.trim();
                    // drop the parameter's name (the last identifier), keep "*" and the type words
                    String type = p.matches(".*[\\w\\]]$") && p.split("[\\s*]+").length > 1 ? p.replaceAll("\\w+\\s*(\\[\\s*\\])?$", p.endsWith("]") ? "*" : "") : p;
                    params.add(kind(type, pointers));
                }
            }
            return new Prototype(kind(resultType, pointers), params, before.replaceAll("\\s+", " ") + " " + name + "(" + args.replaceAll("\\s+", " ") + ")");
        }
        throw new AssertionError(name + " has no prototype in the headers");
    }

    static Kind kind(MemoryLayout l) {
        if (l instanceof java.lang.foreign.AddressLayout) return Kind.POINTER;
        if (l.equals(ValueLayout.JAVA_LONG)) return Kind.LONG;
        if (l.equals(ValueLayout.JAVA_INT)) return Kind.INT;
        if (l.equals(ValueLayout.JAVA_FLOAT)) return Kind.FLOAT;
        if (l.equals(ValueLayout.JAVA_DOUBLE)) return Kind.DOUBLE;
        throw new AssertionError("unexpected layout " + l);
    }

    /** Pointers and handles travel as JAVA_LONG device addresses too: the same 8-byte register on x86-64. */
    static boolean fits(Kind c, Kind java) { return c == java || (c == Kind.POINTER && java == Kind.LONG); }

    static void check(Ffm ffm) throws IOException {
        String text = headers(ffm.file);
        Set<String> pointers = pointerTypedefs(text);
        assertTrue(ffm.bound.size() > 3, "bindings recorded for " + ffm.file);
        for (Ffm.Bound b : ffm.bound) {
            Prototype p = prototype(text, b.name(), pointers);
            List<MemoryLayout> args = b.signature().argumentLayouts();
            String at = b.name() + ": bound as " + b.signature() + ", declared " + p.text();
            assertEquals(p.params().size(), args.size(), at);
            for (int i = 0; i < args.size(); i++)
                assertTrue(fits(p.params().get(i), kind(args.get(i))), "parameter " + i + " of " + at);
            Kind result = b.signature().returnLayout().map(FfmSignaturesTest::kind).orElse(Kind.VOID);
            assertTrue(fits(p.result(), result), "result of " + at);
        }
    }

    @Test
    void everyBoundSignatureMatchesTheHeaders() throws IOException {
        CudaLibrariesTest.open();
        CudaLibrariesTest.assumeLibraries();
        CudaLibraries libs = CudaLibrariesTest.libs;
        check(libs.cudnn.ffm);
        check(libs.cublas.ffm);
        check(libs.nvrtc.ffm);
    }

    /** The parser itself, on prototypes written the way the three headers write them. */
    @Test
    void theParserReadsTheHeadersStyles() {
        String h = clean("#if X\ntypedef struct cudnnContext *cudnnHandle_t;\n/* c */ size_t CUDNNWINAPI\ncudnnGetVersion(void);\n"
                + "CUDNN_DEPRECATED cudnnStatus_t CUDNNWINAPI\ncudnnFind(cudnnHandle_t handle, const int requested, int *returned, float alpha);\n"
                + "x = cudnnFind(h, 1, &r, 2.f);\n"
                + "nvrtcResult nvrtcCreate(nvrtcProgram *prog, const char * const *headers, long long int n, size_t s);\n"
                + "const char *CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t status);\n#endif\n");
        Set<String> ptr = pointerTypedefs(h);
        assertEquals(new Prototype(Kind.LONG, List.of(), "size_t CUDNNWINAPI cudnnGetVersion(void)"), prototype(h, "cudnnGetVersion", ptr));
        assertEquals(List.of(Kind.POINTER, Kind.INT, Kind.POINTER, Kind.FLOAT), prototype(h, "cudnnFind", ptr).params());
        assertEquals(Kind.INT, prototype(h, "cudnnFind", ptr).result());
        assertEquals(List.of(Kind.POINTER, Kind.POINTER, Kind.LONG, Kind.LONG), prototype(h, "nvrtcCreate", ptr).params());
        assertEquals(Kind.POINTER, prototype(h, "cudnnGetErrorString", ptr).result());
    }
}
