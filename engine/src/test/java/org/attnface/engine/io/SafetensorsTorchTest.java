package org.attnface.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.io.Safetensors.Dtype;
import org.attnface.engine.io.Safetensors.Entry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32 against the reference implementation: PyTorch's safetensors writes one tensor of
 * every dtype it shares with attnface (torch_dtypes.py); attnface reads each exactly, writes
 * them back, and PyTorch finds every bit unchanged, NaN payloads included; its float8 file is
 * refused with the tensor and dtype named. Runs where the prepared venv
 * ~/.cache/attnface/venv-torch (or $ATTNFACE_TORCH_PYTHON) exists.
 */
class SafetensorsTorchTest {
    @TempDir Path dir;

    private static Path torchPython() {
        String env = System.getenv("ATTNFACE_TORCH_PYTHON");
        Path p = env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache/attnface/venv-torch/bin/python");
        return Files.isExecutable(p) ? p : null;
    }

    private String python(Path script, String... args) throws Exception {
        String[] cmd = new String[2 + args.length];
        cmd[0] = torchPython().toString();
        cmd[1] = script.toString();
        System.arraycopy(args, 0, cmd, 2, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python timed out");
        assumeTrue(!out.contains("ModuleNotFoundError"), "the venv lacks torch or safetensors: " + out);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void pyTorchFilesOfEveryDtypeReadExactlyAndComeBackUnchanged() throws Exception {
        assumeTrue(torchPython() != null, "no PyTorch venv at ~/.cache/attnface/venv-torch (or $ATTNFACE_TORCH_PYTHON)");
        Path script = dir.resolve("torch_dtypes.py");
        try (InputStream in = SafetensorsTorchTest.class.getResourceAsStream("/torch_dtypes.py")) {
            Files.copy(in, script);
        }
        Path f = dir.resolve("torch.safetensors");
        python(script, "write", f.toString());
        Safetensors.Contents c = Safetensors.read(f);
        Map<String, Entry> t = c.tensors();
        assertEquals("pt", c.metadata().get("format"));
        assertEquals(Dtype.BOOL, t.get("bool").dtype());
        assertArrayEquals(new long[] {1, 0, 1}, t.get("bool").longs());
        assertArrayEquals(new long[] {0, 255, 7}, t.get("u8").longs());
        assertArrayEquals(new long[] {-128, 127, -1}, t.get("i8").longs());
        assertArrayEquals(new long[] {-32768, 32767, -2}, t.get("i16").longs());
        assertArrayEquals(new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -3}, t.get("i32").longs());
        assertArrayEquals(new long[] {Long.MIN_VALUE, (1L << 53) + 1, 12345}, t.get("i64").longs());
        assertArrayEquals(new float[] {1f, -2f, 65504f, 0x1p-24f}, t.get("f16").values(), 0f);
        assertArrayEquals(new float[] {1f, -3f, 0x1p127f}, t.get("bf16").values(), 0f);
        assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, t.get("f64").values(), 0f);
        assertArrayEquals(new int[] {2, 3}, t.get("f32").shape());
        assertEquals(0x7F800001, Float.floatToRawIntBits(t.get("nan_f32").values()[0]), "a signalling NaN's payload");
        Entry counter = t.get("layer1.0.bn1.num_batches_tracked");
        assertEquals(Dtype.I64, counter.dtype());
        assertArrayEquals(new int[0], counter.shape());
        assertArrayEquals(new long[] {17}, counter.longs());

        Path back = dir.resolve("back.safetensors");
        Safetensors.writeEntries(back, t, c.metadata());
        assertEquals("identical", python(script, "check", back.toString()).strip());

        Path f8 = dir.resolve("torch.safetensors.f8");
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(f8));
        assertTrue(e.getMessage().contains("tensor \"w\" has dtype F8_E4M3: floats narrower than 16 bits are not supported"), e.getMessage());
    }
}
