package org.attnface.trainer.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

import org.attnface.engine.io.Json;
import org.attnface.trainer.metrics.Evaluation;

/** Report PNGs drawn with java.awt: training curves, the confusion matrix, the gender-probability histogram. */
public final class Charts {
    private Charts() {}

    private static final Color[] SERIES = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e)};

    /**
     * Train loss, and validation gender and age-bucket accuracy, per epoch from metrics.jsonl;
     * for an ensemble a third panel with each member's validation accuracies.
     */
    public static void curves(Path metricsJsonl, Path png) throws IOException {
        String[] keys = {"epoch", "train_loss", "val_gender_accuracy", "val_age_bucket_accuracy",
                "val_attn_gender_accuracy", "val_resnet_gender_accuracy", "val_attn_age_bucket_accuracy", "val_resnet_age_bucket_accuracy"};
        List<double[]> rows = new ArrayList<>();
        boolean members = false;
        if (Files.exists(metricsJsonl))
            for (String l : Files.readAllLines(metricsJsonl)) {
                if (l.isBlank()) continue;
                Map<?, ?> m = (Map<?, ?>) Json.parse(l);
                double[] r = new double[keys.length];
                for (int k = 0; k < keys.length; k++) r[k] = num(m.get(keys[k]));
                members |= m.containsKey(keys[4]);
                rows.add(r);
            }
        BufferedImage img = canvas(members ? 1350 : 900, 360);
        Graphics2D g = graphics(img);
        double[] x = column(rows, 0);
        plot(g, 0, 0, 450, 360, "training loss", x, new double[][] {column(rows, 1)}, new String[] {"train loss"}, false);
        plot(g, 450, 0, 450, 360, "validation accuracy", x, new double[][] {column(rows, 2), column(rows, 3)}, new String[] {"gender", "age bucket"}, true);
        if (members)
            plot(g, 900, 0, 450, 360, "validation accuracy of each member", x,
                    new double[][] {column(rows, 4), column(rows, 5), column(rows, 6), column(rows, 7)},
                    new String[] {"attn gender", "resnet gender", "attn age", "resnet age"}, true);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    private static double[] column(List<double[]> rows, int k) {
        double[] c = new double[rows.size()];
        for (int i = 0; i < c.length; i++) c[i] = rows.get(i)[k];
        return c;
    }

    private static void plot(Graphics2D g, int ox, int oy, int w, int h, String title, double[] x, double[][] ys, String[] names, boolean unitRange) {
        int left = ox + 60, right = ox + w - 20, top = oy + 40, bottom = oy + h - 45;
        double xmin = x.length == 0 ? 0 : x[0], xmax = x.length == 0 ? 1 : x[x.length - 1];
        if (xmax <= xmin) { xmin -= 1; xmax += 1; }
        double ymin = unitRange ? 0 : Double.POSITIVE_INFINITY, ymax = unitRange ? 1 : Double.NEGATIVE_INFINITY;
        if (!unitRange) for (double[] y : ys) for (double v : y) if (Double.isFinite(v)) { ymin = Math.min(ymin, v); ymax = Math.max(ymax, v); }
        if (!(ymax > ymin)) { ymin = Double.isFinite(ymin) ? ymin - 1 : 0; ymax = ymin + 2; }
        g.setColor(Color.BLACK);
        g.drawString(title, left, oy + 22);
        g.drawRect(left, top, right - left, bottom - top);
        for (int t = 0; t <= 4; t++) {
            double v = ymin + (ymax - ymin) * t / 4;
            int py = bottom - (int) ((bottom - top) * t / 4.0);
            g.setColor(new Color(0xDDDDDD));
            g.drawLine(left + 1, py, right - 1, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, unitRange ? "%.0f%%" : "%.3g", unitRange ? 100 * v : v), ox + 5, py + 4);
        }
        g.drawString("epoch", (left + right) / 2 - 15, oy + h - 10);
        for (int i = 0; i < x.length; i++) {
            int px = left + (int) ((right - left) * (x[i] - xmin) / (xmax - xmin));
            if (x.length <= 20 || i % Math.max(1, x.length / 10) == 0) g.drawString(String.format(Locale.ROOT, "%.0f", x[i]), px - 4, bottom + 15);
        }
        g.setStroke(new BasicStroke(2f));
        for (int s = 0; s < ys.length; s++) {
            g.setColor(SERIES[s % SERIES.length]);
            int px0 = -1, py0 = -1;
            for (int i = 0; i < x.length; i++) {
                if (!Double.isFinite(ys[s][i])) { px0 = -1; continue; }
                int px = left + (int) ((right - left) * (x[i] - xmin) / (xmax - xmin));
                int py = bottom - (int) ((bottom - top) * (ys[s][i] - ymin) / (ymax - ymin));
                g.fillOval(px - 3, py - 3, 6, 6);
                if (px0 >= 0) g.drawLine(px0, py0, px, py);
                px0 = px;
                py0 = py;
            }
            // Accuracies sit high and losses fall to the right: legend bottom right for the first, top right for the second.
            g.drawString(names[s], right - 110, unitRange ? bottom - 10 - 16 * (ys.length - 1 - s) : top + 18 + 16 * s);
        }
        g.setStroke(new BasicStroke(1f));
    }

    /** The age-bucket confusion matrix as a heatmap, each row normalised (the share of the true bucket predicted as each). */
    public static void confusion(Evaluation ev, String title, Path png) throws IOException {
        int[][] c = ev.confusion();
        int b = c.length, cell = 56, left = 90, top = 60;
        BufferedImage img = canvas(left + b * cell + 30, top + b * cell + 70);
        Graphics2D g = graphics(img);
        g.setColor(Color.BLACK);
        g.drawString("age-bucket confusion (" + title + "), rows: true, columns: predicted, shade: row share", 10, 22);
        for (int t = 0; t < b; t++) {
            int rowSum = 0;
            for (int v : c[t]) rowSum += v;
            g.setColor(Color.BLACK);
            g.drawString(ev.buckets().label(t), 10, top + t * cell + cell / 2 + 5);
            g.drawString(ev.buckets().label(t), left + t * cell + 8, top + b * cell + 20);
            for (int p = 0; p < b; p++) {
                double share = rowSum == 0 ? 0 : (double) c[t][p] / rowSum;
                int shade = (int) (255 * (1 - share));
                g.setColor(new Color(shade, shade, 255));
                g.fillRect(left + p * cell, top + t * cell, cell, cell);
                g.setColor(share > 0.5 ? Color.WHITE : Color.BLACK);
                g.drawString(Integer.toString(c[t][p]), left + p * cell + 8, top + t * cell + cell / 2 + 5);
            }
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, b * cell, b * cell);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    /** Histogram of P(female), men and women drawn separately (20 bins). */
    public static void genderHistogram(Evaluation ev, String title, Path png) throws IOException {
        float[][] byGender = ev.femaleProbabilityByGender();
        int bins = 20;
        int[][] counts = new int[2][bins];
        int max = 1;
        for (int s = 0; s < 2; s++)
            for (float p : byGender[s]) {
                int k = Math.min(bins - 1, Math.max(0, (int) (p * bins)));
                max = Math.max(max, ++counts[s][k]);
            }
        int w = 700, h = 360, left = 60, right = w - 20, top = 40, bottom = h - 45;
        BufferedImage img = canvas(w, h);
        Graphics2D g = graphics(img);
        g.setColor(Color.BLACK);
        g.drawString("P(female) on " + title + " images: blue = men, red = women", left, 22);
        g.drawRect(left, top, right - left, bottom - top);
        double bw = (right - left) / (double) bins;
        for (int s = 0; s < 2; s++) {
            Color c = SERIES[s];
            g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 140));
            for (int k = 0; k < bins; k++) {
                int bh = (int) ((bottom - top) * counts[s][k] / (double) max);
                g.fillRect(left + (int) (k * bw) + 1, bottom - bh, (int) bw - 2, bh);
            }
        }
        g.setColor(Color.BLACK);
        for (int t = 0; t <= 4; t++) {
            int px = left + (int) ((right - left) * t / 4.0);
            g.drawString(String.format(Locale.ROOT, "%.2f", t / 4.0), px - 12, bottom + 15);
        }
        g.drawString(Integer.toString(max), 10, top + 10);
        g.drawString("0", 40, bottom);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    static BufferedImage canvas(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return img;
    }

    static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        return g;
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
