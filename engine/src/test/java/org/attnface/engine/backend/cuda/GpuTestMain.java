package org.attnface.engine.backend.cuda;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

/**
 * Runs the CUDA test classes without Maven or a JUnit launcher (for the GPU machine, which has
 * only a Java runtime): calls @BeforeAll, then for each @Test method @BeforeEach, the test and
 * @AfterEach, and prints one line per test. Exit status 1 when any test failed.
 * Usage: java -cp engine.jar:engine-tests.jar:junit-jupiter-api.jar:opentest4j.jar:... \
 *        org.attnface.engine.backend.cuda.GpuTestMain
 */
public final class GpuTestMain {
    private GpuTestMain() {}

    static final Class<?>[] CLASSES = {CudaAvailabilityTest.class, CudaVsCpuTest.class, CudaTrainingStepTest.class, CudaDeterminismTest.class,
            CompatibilityTest.class, DeviceMemoryTest.class, FfmSignaturesTest.class};

    public static void main(String[] args) throws Exception {
        int passed = 0, failed = 0, skipped = 0;
        List<String> failures = new ArrayList<>();
        String unavailable = null;
        try {
            CudaBackend b = (CudaBackend) org.attnface.engine.Backends.raw(org.attnface.engine.Device.CUDA);
            System.out.println("backend: " + b.describe());
            System.out.println("libraries: " + b.libraries());
        } catch (RuntimeException | LinkageError e) {
            unavailable = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            System.out.println("CUDA backend unavailable: " + e.getMessage());
        }
        System.out.printf("%-70s %-6s %8s  %s%n", "test", "result", "ms", "detail");
        for (Class<?> c : CLASSES) {
            List<Method> tests = new ArrayList<>(), beforeEach = new ArrayList<>(), afterEach = new ArrayList<>();
            String classFailure = null;
            for (Method m : c.getDeclaredMethods()) {
                m.setAccessible(true);
                if (m.isAnnotationPresent(Test.class)) tests.add(m);
                if (m.isAnnotationPresent(BeforeEach.class)) beforeEach.add(m);
                if (m.isAnnotationPresent(AfterEach.class)) afterEach.add(m);
                if (m.isAnnotationPresent(BeforeAll.class) && Modifier.isStatic(m.getModifiers())) {
                    try {
                        m.invoke(null);
                    } catch (InvocationTargetException e) {
                        classFailure = describe(e.getCause());
                    }
                }
            }
            tests.sort((a, b) -> a.getName().compareTo(b.getName()));
            for (Method t : tests) {
                String name = c.getSimpleName() + "." + t.getName();
                long t0 = System.nanoTime();
                String result, detail = "";
                try {
                    if (classFailure != null) throw new IllegalStateException("@BeforeAll failed: " + classFailure);
                    var ctor = c.getDeclaredConstructor();
                    ctor.setAccessible(true);
                    Object o = ctor.newInstance();
                    try {
                        for (Method m : beforeEach) m.invoke(o);
                        t.invoke(o);
                    } finally {
                        for (Method m : afterEach) m.invoke(o);
                    }
                    result = "PASS";
                    passed++;
                } catch (InvocationTargetException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof TestAbortedException) {
                        result = "SKIP";
                        skipped++;
                    } else {
                        result = cause instanceof AssertionError ? "FAIL" : "ERROR";
                        failed++;
                        failures.add(name);
                        cause.printStackTrace(System.out);
                    }
                    detail = describe(cause);
                } catch (Exception e) {
                    result = "ERROR";
                    failed++;
                    failures.add(name);
                    detail = describe(e);
                }
                System.out.printf("%-70s %-6s %8.0f  %s%n", name, result, (System.nanoTime() - t0) / 1e6, detail);
            }
        }
        // The summary line is what gpu-check.sh shows last: it says why everything skipped.
        System.out.printf("GPU tests: %d passed, %d failed, %d skipped%s%s%n", passed, failed, skipped,
                failures.isEmpty() ? "" : " (failed: " + String.join(", ", failures) + ")",
                unavailable == null ? "" : " (CUDA backend unavailable: " + unavailable + ")");
        System.exit(failed == 0 ? 0 : 1);
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m.replace('\n', ' '));
    }
}
