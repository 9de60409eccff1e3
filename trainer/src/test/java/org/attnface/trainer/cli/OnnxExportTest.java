package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.io.Safetensors;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.LossWeights;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.model.Prediction;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.TestData;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceDecoder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Resize;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attnface export --onnx} against ONNX Runtime: the exported file, run by ORT's CPU
 * provider, gives the probabilities attnface's predict gives, within 1e-4 (fp32: both sides sum
 * the same products in different orders, ~1e-6 relative per layer; 1e-4 is the bar), on
 * 100 real UTKFace faces and on standard-normal images. ORT runs in Python: the venv of
 * bench/reference/make-venv.sh (~/.cache/attnface/venv-torch) or $ATTNFACE_ORT_PYTHON; the
 * comparisons skip, saying so, where no Python with onnxruntime and numpy is found.
 *
 * <p>The networks are seeded, not trained, so the test first makes them look trained where it
 * matters: batch-norm running statistics from training-mode forwards on the images (else the
 * ResNet's activations grow layer by layer and every probability saturates at 0 or 1), and a
 * spatial transformer that moves (its last layer starts at zero weights: the identity for every
 * image). It asserts both, so a pass cannot come from saturated or identity outputs.
 */
class OnnxExportTest {
    static final double TOLERANCE = 1e-4;
    @TempDir Path tmp;

    @Test
    void onnxRuntimeMatchesAttnfaceOnOneHundredRealFaces() throws Exception {
        Path real = TestData.utkface();
        assumeTrue(real != null, TestData.NO_UTKFACE);
        String python = ortPython();
        try (TensorScope scope = TensorScope.open()) {
            Tensor faces = realFaces(real, 100, 64);
            check(python, config("attn", 64, 18, 16, 10, true, true, true), faces, 0.5f);
            check(python, config("resnet", 64, 18, 16, 10, true, true, false), faces, 0.5f);
            check(python, config("ensemble", 64, 10, 8, 16, true, true, true), faces, 0.3f);
        }
    }

    @Test
    void onnxRuntimeMatchesAttnfaceOnSyntheticImages() throws Exception {
        String python = ortPython();
        try (TensorScope scope = TensorScope.open()) {
            // the README recipe's ensemble: 128x128, attn width 16, ResNet-18 of width 32, auxiliary heads
            check(python, config("ensemble", 128, 18, 32, 16, true, true, true), gaussian(6, 128, 1), 0.5f);
            // RQ1 and RQ3's switches: no spatial transformer, the age head without the gender probabilities
            check(python, config("attn", 64, 18, 64, 10, false, false, false), gaussian(8, 64, 2), 0.5f);
            check(python, config("resnet", 96, 10, 8, 10, true, false, false), gaussian(8, 96, 3), 0.5f);
        }
    }

    @Test
    void exportNeedsTheFormatAndAnExistingCheckpoint() throws IOException {
        Path ckpt = tmp.resolve("m.safetensors");
        AgeGenderModel m = Models.create(ModelConfig.defaults(org.attnface.model.Arch.ATTN, 32), Device.CPU, 1);
        Safetensors.write(ckpt, m.stateDict(), m.config().toMetadata());
        Cli.Outcome noFormat = Cli.run("export", ckpt.toString());
        assertEquals(2, noFormat.exitCode(), noFormat.all());
        assertTrue(noFormat.err().contains("--onnx"), noFormat.all());
        Cli.Outcome missing = Cli.run("export", "--onnx", tmp.resolve("nope.safetensors").toString());
        assertEquals(1, missing.exitCode(), missing.all());
        assertTrue(missing.err().contains("nope.safetensors: checkpoint not found"), missing.all());
        Cli.Outcome notEnsemble = Cli.run("export", "--onnx", ckpt.toString(), "--attn-weight", "0.2");
        assertEquals(1, notEnsemble.exitCode(), notEnsemble.all());
        assertTrue(notEnsemble.err().contains("--attn-weight applies to an ensemble"), notEnsemble.all());
        // the default output sits beside the checkpoint
        Cli.Outcome ok = Cli.run("export", "--onnx", ckpt.toString());
        assertEquals(0, ok.exitCode(), ok.all());
        assertTrue(Files.size(tmp.resolve("m.onnx")) > 4L * m.parameterCount(), ok.all());
    }

    private static ModelConfig config(String arch, int size, int depth, int resnetWidth, int attnWidth, boolean attention,
                                      boolean feedGender, boolean aux) {
        return new ModelConfig(org.attnface.model.Arch.parse(arch), size, AgeBuckets.decades(), depth, resnetWidth, attnWidth, attention, feedGender, false, 0.5f, aux);
    }

    /** Exports a made-to-look-trained model through the CLI, runs the file in ORT and compares the probabilities. */
    private void check(String python, ModelConfig c, Tensor images, float attnWeight) throws Exception {
        AgeGenderModel model = Models.create(c, Device.CPU, 7);
        lookTrained(model, images);
        if (model instanceof Ensemble e) e.setAttnWeight(attnWeight);
        String name = c.arch() + "-" + c.imageSize() + (c.attention() ? "" : "-noattn");
        Path ckpt = tmp.resolve(name + ".safetensors"), onnx = tmp.resolve(name + ".onnx");
        Safetensors.write(ckpt, model.stateDict(), c.toMetadata());
        Cli.Outcome export = Cli.run("export", "--onnx", ckpt.toString(), "--out", onnx.toString(), "--attn-weight", Float.toString(attnWeight));
        assertEquals(0, export.exitCode(), export.all());

        Prediction p;
        try (AutoCloseable ng = Autograd.noGrad()) {
            p = model.predict(images);
        }
        float[] gender = p.genderProbs().toArray(), age = p.ageProbs().toArray();
        float[] ort = runOrt(python, onnx, images, gender.length + age.length);
        double worst = 0;
        for (int i = 0; i < gender.length; i++) worst = Math.max(worst, Math.abs(gender[i] - ort[i]));
        for (int i = 0; i < age.length; i++) worst = Math.max(worst, Math.abs(age[i] - ort[gender.length + i]));
        float lo = 1, hi = 0;
        for (int i = 1; i < gender.length; i += 2) { lo = Math.min(lo, gender[i]); hi = Math.max(hi, gender[i]); }
        System.out.printf("%s: %d images, max |attnface - ORT| = %.2e; P(female) spans %.3f..%.3f%n", name, images.dim(0), worst, lo, hi);
        assertTrue(worst <= TOLERANCE, name + ": ONNX Runtime differs from attnface by " + worst + " > " + TOLERANCE);
        assertTrue(hi - lo > 0.05, name + ": the probabilities hardly vary over the images (" + lo + ".." + hi + "): the check would be vacuous");
    }

    /**
     * Batch-norm running statistics from 8 training-mode forwards (momentum 0.1: 57% of the way to
     * the batch's statistics), the transformer's last layer at random weights, so theta varies
     * with the image by a few hundredths of the image's half-width, and the heads' weights 10x
     * their initial scale, so the logits spread over a few units as a trained network's do.
     */
    private static void lookTrained(AgeGenderModel model, Tensor images) {
        Random r = new Random(11);
        for (var e : model.stateDict().entrySet()) {
            float[] v = e.getValue().toArray();
            if (e.getKey().endsWith("fc_loc.2.weight")) for (int i = 0; i < v.length; i++) v[i] = (float) (0.05 * r.nextGaussian());
            else if (e.getKey().endsWith("_head.weight")) for (int i = 0; i < v.length; i++) v[i] *= 10;
            else continue;
            e.getValue().copyFrom(v);
        }
        int n = images.dim(0);
        model.train();
        try (AutoCloseable ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
            Tensor zeros = Tensor.zeros(Device.CPU, n);
            for (int i = 0; i < 8; i++) model.loss(images, zeros, zeros, LossWeights.BENCHMARK);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        model.eval();
        AttnCnn attn = model instanceof AttnCnn a ? a : model instanceof Ensemble e ? e.attn : null;
        if (attn != null && attn.config().attention()) {
            float[] theta;
            try (AutoCloseable ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
                theta = attn.theta(images).toArray();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            double moved = 0;
            for (int i = 0; i < theta.length; i++) moved = Math.max(moved, Math.abs(theta[i] - (i % 6 == 0 || i % 6 == 4 ? 1 : 0)));
            assertTrue(moved > 0.02, "the spatial transformer is (almost) the identity: max |theta - I| = " + moved);
        }
    }

    /** n UTKFace files spread over the sorted folder, decoded and centre-cropped as eval does. */
    private static Tensor realFaces(Path dir, int n, int size) throws Exception {
        List<Path> all = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.jpg")) {
            for (Path p : ds) all.add(p);
        }
        all.sort(null);
        assumeTrue(all.size() >= n, dir + " holds only " + all.size() + " JPEGs");
        int cache = size * 9 / 8;
        byte[] pixels = new byte[n * cache * cache * 3];
        String[] names = new String[n];
        for (int i = 0, k = 0; k < n; i += all.size() / n) {
            Path f = all.get(i);
            FaceDecoder.Decoded d = FaceDecoder.decode(Files.readAllBytes(f), f.getFileName().toString());
            byte[] px = Resize.squareAreaAverage(d.rgb(), d.width(), d.height(), cache);
            System.arraycopy(px, 0, pixels, k * px.length, px.length);
            names[k++] = f.getFileName().toString();
        }
        byte[][] hashes = new byte[n][32];
        FaceSet set = new FaceSet(cache, names, new int[n], new int[n], new int[n], hashes, pixels, List.of());
        int[] index = new int[n];
        Arrays.setAll(index, i -> i);
        try (Batches b = new Batches(set, Device.CPU, size, AgeBuckets.decades())) {
            Tensor x = b.images(index, false, 0);
            Tensor kept = Tensor.emptyPersistent(Device.CPU, x.shape());
            kept.copyFrom(x.toArray());
            return kept;
        }
    }

    private static Tensor gaussian(int n, int size, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n * 3 * size * size];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(Device.CPU, v, n, 3, size, size);
    }

    /** A Python that imports onnxruntime and numpy, or a skip that says where it looked. */
    static String ortPython() {
        List<String> tried = new ArrayList<>();
        String env = System.getenv("ATTNFACE_ORT_PYTHON");
        List<String> candidates = new ArrayList<>();
        if (env != null) candidates.add(env);
        candidates.add(Path.of(System.getProperty("user.home"), ".cache/attnface/venv-torch/bin/python").toString());
        candidates.add("python3");
        for (String py : candidates) {
            tried.add(py);
            try {
                Process pr = new ProcessBuilder(py, "-c", "import onnxruntime, numpy").redirectErrorStream(true).start();
                pr.getInputStream().readAllBytes();
                if (pr.waitFor(60, TimeUnit.SECONDS) && pr.exitValue() == 0) return py;
            } catch (IOException | InterruptedException e) {
                // not there: try the next
            }
        }
        assumeTrue(false, "no Python with onnxruntime and numpy (tried " + tried + "); bench/reference/make-venv.sh makes one");
        return null;
    }

    /** The file's gender_probs then age_probs for these images, from ORT's CPU provider (2 threads), after onnx's full checker. */
    private float[] runOrt(String python, Path onnx, Tensor images, int outputs) throws Exception {
        Path in = tmp.resolve("images.f32"), out = tmp.resolve("ort.f32");
        Files.write(in, littleEndian(images.toArray()));
        String script = String.join("\n",
                "import sys, numpy as np, onnxruntime as ort",
                "model, inp, n, s, out = sys.argv[1:6]",
                "try:",
                "    import onnx",
                "    onnx.checker.check_model(onnx.load(model), full_check=True)",
                "except ImportError:",
                "    pass",
                "o = ort.SessionOptions(); o.intra_op_num_threads = 2",
                "sess = ort.InferenceSession(model, o, providers=['CPUExecutionProvider'])",
                "x = np.fromfile(inp, dtype='<f4').reshape(int(n), 3, int(s), int(s))",
                "g, a = sess.run(['gender_probs', 'age_probs'], {'images': x})",
                "np.concatenate([g.ravel(), a.ravel()]).astype('<f4').tofile(out)");
        Process pr = new ProcessBuilder(python, "-c", script, onnx.toString(), in.toString(), Integer.toString(images.dim(0)),
                Integer.toString(images.dim(2)), out.toString()).redirectErrorStream(true).start();
        String log = new String(pr.getInputStream().readAllBytes());
        assertTrue(pr.waitFor(300, TimeUnit.SECONDS), "ONNX Runtime did not finish in 300 s");
        assertEquals(0, pr.exitValue(), "ONNX Runtime failed on " + onnx + ":\n" + log);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4L * outputs, b.remaining(), "ONNX Runtime returned " + b.remaining() / 4 + " values, " + outputs + " expected");
        float[] v = new float[outputs];
        b.asFloatBuffer().get(v);
        return v;
    }

    private static byte[] littleEndian(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }
}
