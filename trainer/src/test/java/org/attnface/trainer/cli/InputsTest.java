package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.io.Safetensors;
import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32 at the command line: {@code train --epochs 0} sets up a run that a later
 * {@code --resume --epochs N} trains; {@code inspect} lists any safetensors file and an
 * attnface checkpoint's model, buckets and training config, and refuses an invalid one with
 * exit 1; {@code predict} and {@code explain} refuse a FIFO or a folder named like an image
 * at once instead of blocking on it.
 */
class InputsTest {
    @TempDir Path tmp;

    @Test
    void epochsZeroSetsUpARunThatResumeTrains() throws IOException {
        Path faces = tmp.resolve("faces"), run = tmp.resolve("run"), cache = tmp.resolve("cache");
        TestData.synthesize(faces, 80, 48, 32);
        Cli.Outcome setUp = Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--epochs", 0, "--batch", 16, "--image-size", 32,
                "--out", run, "--threads", 2, "--cache-dir", cache));
        assertEquals(0, setUp.exitCode(), setUp.all());
        assertTrue(setUp.all().contains("--resume --epochs N` trains this run"), setUp.all());
        assertTrue(Files.exists(run.resolve("config.json")) && Files.exists(run.resolve("split.json")));
        assertFalse(Files.exists(run.resolve("last.safetensors")), "nothing trained");
        String split = Files.readString(run.resolve("split.json"));

        Cli.Outcome noEpochs = Cli.run(Cli.args("train", "--out", run, "--resume", "--cache-dir", cache));
        assertEquals(2, noEpochs.exitCode(), noEpochs.all());
        assertTrue(noEpochs.err().contains("was set up with --epochs 0: add --epochs N to train it"), noEpochs.err());

        Cli.Outcome resumed = Cli.run(Cli.args("train", "--out", run, "--resume", "--epochs", 1, "--cache-dir", cache));
        assertEquals(0, resumed.exitCode(), resumed.all());
        assertTrue(resumed.all().contains("no checkpoint in " + run + " yet: starting from step 0"), resumed.all());
        assertTrue(Files.exists(run.resolve("last.safetensors")));
        assertEquals(split, Files.readString(run.resolve("split.json")), "the run's split is the one --epochs 0 wrote");

        Cli.Outcome inspect = Cli.run(Cli.args("inspect", run.resolve("best.safetensors")));
        assertEquals(0, inspect.exitCode(), inspect.all());
        String o = inspect.out();
        assertTrue(o.contains("attnface checkpoint (attnface-checkpoint/1)"), o);
        assertTrue(o.contains("  model: attn, 32x32 input, attn width 10, attention on, gender fed to the age head"), o);
        assertTrue(o.contains("  age buckets (8): 0-9, 10-19"), o);
        assertTrue(o.contains("  training: step "), o);
        assertTrue(o.contains("    epochs: 1"), o);
        assertTrue(o.contains("    data: " + faces), o);
        assertTrue(o.lines().anyMatch(l -> l.matches("gender_head\\.weight\\s+F32\\s+\\[2, \\d+\\]\\s+[\\d,]+\\s+-?[\\d.e+-]+ / -?[\\d.e+-]+ / -?[\\d.e+-]+")), o);
    }

    @Test
    void inspectListsAnySafetensorsFileAndRefusesAnInvalidOne() throws IOException {
        Map<String, Safetensors.Entry> t = new LinkedHashMap<>();
        t.put("conv.weight", Safetensors.Entry.f32(new int[] {2, 2}, new float[] {-1, 0.5f, Float.NaN, 3}));
        t.put("bn.num_batches_tracked", Safetensors.Entry.i64(new int[] {}, new long[] {17}));
        t.put("mask", new Safetensors.Entry(Safetensors.Dtype.BOOL, new int[] {3}, new byte[] {1, 0, 1}));
        Path f = tmp.resolve("third-party.safetensors");
        Safetensors.writeEntries(f, t, Map.of("format", "pt"));
        Cli.Outcome ok = Cli.run(Cli.args("inspect", f));
        assertEquals(0, ok.exitCode(), ok.all());
        assertTrue(ok.out().contains("3 tensors, 8 elements, 27 data bytes"), ok.out());
        assertTrue(ok.out().contains("  format = pt"), ok.out());
        assertTrue(ok.out().lines().anyMatch(l -> l.matches("conv\\.weight\\s+F32\\s+\\[2, 2\\]\\s+16\\s+-1\\.0000 / 3\\.0000 / 0\\.83333; 1 NaN")), ok.out());
        assertTrue(ok.out().lines().anyMatch(l -> l.matches("bn\\.num_batches_tracked\\s+I64\\s+\\[\\]\\s+8\\s+value 17")), ok.out());
        assertTrue(ok.out().lines().anyMatch(l -> l.matches("mask\\s+BOOL\\s+\\[3\\]\\s+3\\s+0 / 1")), ok.out());
        assertTrue(ok.out().contains("not an attnface checkpoint"), ok.out());

        byte[] bytes = Files.readAllBytes(f);
        bytes[8] = ' ';   // whitespace before '{'
        Path bad = Files.write(tmp.resolve("bad.safetensors"), bytes);
        Cli.Outcome refused = Cli.run(Cli.args("inspect", bad));
        assertEquals(1, refused.exitCode());
        assertTrue(refused.err().contains("corrupt safetensors file " + bad + ": header does not start with '{'"), refused.err());
        Cli.Outcome missing = Cli.run(Cli.args("inspect", tmp.resolve("absent.safetensors")));
        assertEquals(1, missing.exitCode());
    }

    @Test
    void predictAndExplainRefuseAFifoOrAFolderAtOnce() throws Exception {
        Path fifo = tmp.resolve("face.jpg");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        boolean haveFifo = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        Path folder = Files.createDirectory(tmp.resolve("folder.jpg"));
        Path checkpoint = tmp.resolve("absent.safetensors");   // the path is refused before the checkpoint is read
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            if (haveFifo) {
                for (String cmd : new String[] {"predict", "explain"}) {
                    Cli.Outcome r = cmd.equals("predict") ? Cli.run(Cli.args(cmd, fifo, "--checkpoint", checkpoint))
                            : Cli.run(Cli.args(cmd, fifo, "--checkpoint", checkpoint, "--out", tmp.resolve("x")));
                    assertEquals(1, r.exitCode(), r.all());
                    assertTrue(r.err().contains(fifo + " is a FIFO (named pipe), not a regular file"), r.err());
                }
            }
            Cli.Outcome pf = Cli.run(Cli.args("predict", folder, "--checkpoint", checkpoint));
            assertEquals(1, pf.exitCode(), pf.all());
            assertTrue(pf.err().contains(folder + " is a folder named like an image"), pf.err());
            Cli.Outcome ef = Cli.run(Cli.args("explain", folder, "--checkpoint", checkpoint, "--out", tmp.resolve("x")));
            assertEquals(1, ef.exitCode(), ef.all());
            assertTrue(ef.err().contains(folder + " is a folder named like an image"), ef.err());
        });
    }
}
