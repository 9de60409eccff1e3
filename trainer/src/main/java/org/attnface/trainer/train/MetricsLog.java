package org.attnface.trainer.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.LossWeights;
import org.attnface.trainer.metrics.Evaluation;

/**
 * metrics.jsonl, one JSON line per epoch, and the epoch's line on the console. The only
 * writer of that file: a run with several processes gives one of them (rank 0) a MetricsLog.
 */
final class MetricsLog {
    private final Path file;
    private final PrintStream log;
    private final LossWeights weights;

    /** What one epoch measured. {@code members}: an ensemble's members' validation; {@code attnInside}: NaN without attention. */
    record Epoch(int epoch, long step, LossSums loss, double lr, Evaluation.Summary val, Map<String, Evaluation.Summary> members,
                 double attnInside, double trainImagesPerSecond, double trainSeconds, double batchPrepSeconds, double evalSeconds,
                 boolean best) {}

    MetricsLog(Path runDir, LossWeights weights, PrintStream log) {
        this.file = runDir.resolve("metrics.jsonl");
        this.weights = weights;
        this.log = log;
    }

    Path file() { return file; }

    /** On resume: keeps the lines of the epochs the checkpoint has; drops later or half-written ones. */
    void keepEpochs(int epochsDone) throws IOException {
        if (!Files.exists(file)) return;
        List<String> keep = new ArrayList<>();
        int dropped = 0;
        for (String l : Files.readAllLines(file)) {
            try {
                Object o = Json.parse(l);
                if (o instanceof Map<?, ?> m && m.get("epoch") instanceof Number n && n.intValue() <= epochsDone) keep.add(l);
                else dropped++;
            } catch (IllegalArgumentException e) {
                dropped++;
            }
        }
        if (dropped > 0) {
            log.println("metrics.jsonl: dropped " + dropped + " line(s) after the checkpoint's epoch " + epochsDone + " (written before the run stopped)");
            AtomicFile.writeString(file, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
        }
    }

    /** Appends the epoch's line and prints its summary; {@code eta} ends that summary ({@link #runEta}). */
    void write(Epoch e, String eta) throws IOException {
        LossSums sums = e.loss();
        Evaluation.Summary v = e.val();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("epoch", e.epoch());
        line.put("step", e.step());
        line.put("train_loss", sums.count() == 0 ? null : sums.mean(sums.total()));
        // the unweighted terms (the total weights them), only those trained
        Map<String, Double> terms = sums.termMeans(weights);
        terms.forEach((name, mean) -> line.put("train_loss_" + name, mean));
        line.put("lr", e.lr());
        line.put("val_gender_accuracy", v.genderAccuracy());
        line.put("val_age_bucket_accuracy", v.ageAccuracy());
        line.put("val_aabd", v.aabd());
        line.put("val_age_mae", v.ageMae());
        e.members().forEach((name, ms) -> {
            line.put("val_" + name + "_gender_accuracy", ms.genderAccuracy());
            line.put("val_" + name + "_age_bucket_accuracy", ms.ageAccuracy());
            line.put("val_" + name + "_aabd", ms.aabd());
        });
        if (!Double.isNaN(e.attnInside())) line.put("val_attn_inside", e.attnInside());
        line.put("train_images_per_s", e.trainImagesPerSecond());
        line.put("train_seconds", e.trainSeconds());
        line.put("batch_prep_seconds", e.batchPrepSeconds());
        line.put("eval_seconds", e.evalSeconds());
        Files.writeString(file, Json.write(line) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);

        StringBuilder memberText = new StringBuilder();
        e.members().forEach((name, ms) -> memberText.append(memberText.isEmpty() ? " (" : ", ").append(String.format(Locale.ROOT,
                "%s %.2f%% / %.2f%%", name, 100 * ms.genderAccuracy(), 100 * ms.ageAccuracy())));
        if (!memberText.isEmpty()) memberText.append(")");
        log.printf(Locale.ROOT, "epoch %d: train loss %.4f%s, val gender %.2f%%, age bucket %.2f%%, AABD %.3f, MAE %.2f y%s; %.1f img/s "
                        + "(batch preparation %.1f%% of the time)%s%s%n",
                e.epoch(), sums.mean(sums.total()), termText(terms), 100 * v.genderAccuracy(), 100 * v.ageAccuracy(), v.aabd(),
                v.ageMae(), memberText, e.trainImagesPerSecond(), 100 * e.batchPrepSeconds() / Math.max(1e-9, e.trainSeconds()),
                e.best() ? " (best so far)" : "", eta);
    }

    /**
     * "; run ETA 1h42m (16:05)": the remaining epochs at this process's mean time per epoch so far
     * (training and validation), and the local clock time they end; "" after the last epoch. A
     * 2-hour run's end is the number a user plans around, and the bar's ETA covers one epoch.
     */
    static String runEta(long startNanos, int epochsDone, int epochsLeft) {
        if (epochsLeft <= 0 || epochsDone <= 0) return "";
        double s = (System.nanoTime() - startNanos) / 1e9 / epochsDone * epochsLeft;
        String clock = LocalTime.now().plusSeconds(Math.round(s)).truncatedTo(ChronoUnit.MINUTES).toString();
        return "; run ETA " + Progress.time(s) + " (" + clock + ")";
    }

    /** " (gender 0.4120, age 1.2340, ...)" of {@link LossSums#termMeans}; "" when it is empty. */
    private static String termText(Map<String, Double> terms) {
        if (terms.isEmpty()) return "";
        StringBuilder b = new StringBuilder();
        terms.forEach((name, mean) -> b.append(String.format(Locale.ROOT, ", %s %.4f", name, mean)));
        return " (" + b.substring(2) + ")";
    }
}
