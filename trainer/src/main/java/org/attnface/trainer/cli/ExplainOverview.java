package org.attnface.trainer.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Explanation;
import org.attnface.model.Prediction;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.UnusableImageException;
import org.attnface.trainer.data.UtkName;
import org.attnface.trainer.metrics.AgeEstimate;
import org.attnface.trainer.report.Overview;

/** explain's overview picture: the model's prediction and, per network, its explanation labelled with its own classes. */
final class ExplainOverview {
    private ExplainOverview() {}

    /** The overview of one prepared image x [1, 3, S, S] whose crop is {@code crop}; {@code ex} is the model's explanation of x. */
    static BufferedImage draw(Inference inf, Tensor x, Explanation ex, byte[] crop, Path file) {
        AgeGenderModel model = inf.model();
        AgeBuckets buckets = inf.config().buckets();
        List<Overview.Row> rows = new ArrayList<>();
        float[] g, a;
        try (AutoCloseable ng = Autograd.noGrad()) {
            Prediction p = model.predict(x);
            g = p.genderProbs().toArray();
            a = p.ageProbs().toArray();
            if (model instanceof Ensemble e) {
                rows.add(row("attn member", ex, e.attn.predict(x), buckets));
                rows.add(null);   // the ResNet's, below: its explanation needs gradients
            } else {
                rows.add(row(inf.config().arch() + " network", ex, p, buckets));
            }
        } catch (Exception e) {
            throw new IllegalStateException("explain " + file + ": " + e.getMessage(), e);
        }
        if (model instanceof Ensemble e) {
            Explanation rex = e.resnet.explain(x);
            try (AutoCloseable ng = Autograd.noGrad()) {
                rows.set(1, row("ResNet member", rex, e.resnet.predict(x), buckets));
            } catch (Exception ex2) {
                throw new IllegalStateException("explain " + file + ": " + ex2.getMessage(), ex2);
            }
        }
        int gi = g[1] > g[0] ? 1 : 0, ai = 0;
        for (int k = 1; k < a.length; k++) if (a[k] > a[ai]) ai = k;
        AgeEstimate age = AgeEstimate.of(a, 0, buckets);
        List<String> header = List.of(
                String.format(Locale.ROOT, "%s: %s %.0f%%, age %s %.0f%%, about %.0f years (80%% interval: %.0f-%.0f)", inf.config().arch(),
                        gender(gi), 100 * g[gi], buckets.label(ai), 100 * a[ai], age.years(), age.low(), age.high()),
                file.getFileName() + label(file.getFileName().toString()) + "  (checkpoint " + inf.checkpoint() + ")");
        return Overview.draw(crop, inf.config().imageSize(), header, rows);
    }

    private static Overview.Row row(String name, Explanation ex, Prediction p, AgeBuckets buckets) {
        float[] g = p.genderProbs().toArray(), a = p.ageProbs().toArray();
        // Grad-CAM explains the argmax classes of the network's logits, which these are
        int gi = g[1] > g[0] ? 1 : 0, ai = 0;
        for (int k = 1; k < a.length; k++) if (a[k] > a[ai]) ai = k;
        return new Overview.Row(name, ex, gender(gi), g[gi], buckets.label(ai), a[ai]);
    }

    /** ": labelled female, 49" for a UTKFace name, else nothing. */
    private static String label(String name) {
        try {
            UtkName u = UtkName.parse(name);
            return ": labelled " + gender(u.gender()) + ", " + u.age();
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    static String gender(int i) { return i == 1 ? "female" : "male"; }

    /** One overview per image file in {@code dir}, as FILE.overview.png in {@code out}; unreadable files get a line on stderr. */
    static int folder(Path dir, Inference inf, Device d, Path out, PrintStream log, PrintStream err) throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")) files.add(p);
        }
        files.sort(null);
        if (files.isEmpty()) throw new IllegalArgumentException("folder " + dir + " holds no files");
        Files.createDirectories(out);
        int size = inf.config().imageSize(), written = 0, skipped = 0;
        for (Path f : files) {
            FaceSet one;
            try {
                one = inf.image(f);
            } catch (UnusableImageException e) {
                err.println("skip " + f + ": " + e.getMessage());
                skipped++;
                continue;
            }
            byte[] crop = one.centreCrop(0, size);
            BufferedImage overview;
            try (Batches b = new Batches(one, d, size, inf.config().buckets()); TensorScope s = TensorScope.open()) {
                Tensor x = b.images(new int[] {0}, false, 0);
                overview = draw(inf, x, inf.model().explain(x), crop, f);
            }
            ExplainCommand.write(overview, out.resolve(f.getFileName() + ".overview.png"), new ArrayList<>());
            written++;
        }
        log.printf(Locale.ROOT, "wrote %d overviews (FILE.overview.png) to %s%s%n", written, out, skipped > 0 ? ", skipped " + skipped : "");
        return written == 0 ? Main.EXIT_BAD_INPUT : 0;
    }
}
