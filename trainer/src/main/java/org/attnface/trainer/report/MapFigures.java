package org.attnface.trainer.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

import org.attnface.model.AgeBuckets;
import org.attnface.trainer.research.MapFaithfulness;

/** RQ5's pictures: the average attention map per true gender and age bucket, and the deletion and insertion curves. */
public final class MapFigures {
    private MapFigures() {}

    private static final Color[] SERIES = {new Color(0x2ca02c), new Color(0xd62728), new Color(0x1f77b4), new Color(0x777777)};

    /**
     * A grid, rows men and women, columns the age buckets: each cell the mean face of the test
     * faces there with the mean map over it (one colour scale for the whole grid, its maximum
     * red) and the face ellipse in white.
     */
    public static void averageMaps(MapFaithfulness.Result r, String map, AgeBuckets buckets, int cacheSize, String title, Path png) throws IOException {
        double[][][] avg = r.averageMaps().get(map);
        int s = r.size(), scale = Math.max(1, 128 / s), cell = s * scale, nb = buckets.count(), left = 70, top = 50;
        double max = 0;
        for (double[][] row : avg) for (double[] m : row) for (double v : m) max = Math.max(max, v);
        BufferedImage img = Charts.canvas(left + nb * (cell + 6) + 10, top + 2 * (cell + 24) + 10);
        Graphics2D g = Charts.graphics(img);
        g.setColor(Color.BLACK);
        g.drawString(title, 10, 20);
        String[] rows = {"men", "women"};
        for (int gender = 0; gender < 2; gender++) {
            int oy = top + gender * (cell + 24);
            g.setColor(Color.BLACK);
            g.drawString(rows[gender], 10, oy + cell / 2);
            for (int b = 0; b < nb; b++) {
                int ox = left + b * (cell + 6);
                g.setColor(Color.BLACK);
                if (gender == 0) g.drawString(buckets.label(b), ox + 2, top - 8);
                g.drawString("n = " + r.counts()[gender][b], ox + 2, oy + cell + 14);
                if (r.counts()[gender][b] == 0) continue;
                double[] m = avg[gender][b], f = r.meanFaces()[gender][b];
                for (int y = 0; y < cell; y++)
                    for (int x = 0; x < cell; x++) {
                        int i = (y / scale) * s + x / scale;
                        int heat = Overlays.jet(max > 0 ? m[i] / max : 0);
                        int rr = (int) (0.5 * f[3 * i] + 0.5 * ((heat >> 16) & 0xFF));
                        int gg = (int) (0.5 * f[3 * i + 1] + 0.5 * ((heat >> 8) & 0xFF));
                        int bb = (int) (0.5 * f[3 * i + 2] + 0.5 * (heat & 0xFF));
                        img.setRGB(ox + x, oy + y, (rr << 16) | (gg << 8) | bb);
                    }
                // the face ellipse: semi-axes 0.32 C and 0.42 C input pixels about the crop's centre
                double ax = MapFaithfulness.FACE_ELLIPSE[0] * cacheSize * scale, ay = MapFaithfulness.FACE_ELLIPSE[1] * cacheSize * scale;
                g.setColor(Color.WHITE);
                g.draw(new java.awt.geom.Ellipse2D.Double(ox + cell / 2.0 - ax, oy + cell / 2.0 - ay, 2 * ax, 2 * ay));
            }
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    /** Accuracy against the fraction of patches deleted (left two panels) and inserted (right two), each map and random. */
    public static void curves(MapFaithfulness.Result r, String title, Path png) throws IOException {
        int w = 330, h = 300;
        BufferedImage img = Charts.canvas(4 * w, h + 30);
        Graphics2D g = Charts.graphics(img);
        g.setColor(Color.BLACK);
        g.drawString(title, 10, 18);
        String[] task = {"gender", "age bucket"};
        List<String> names = List.copyOf(r.curves().keySet());
        for (int panel = 0; panel < 4; panel++) {
            boolean insertion = panel >= 2;
            int t = panel % 2, ox = panel * w, oy = 30, l = ox + 50, rt = ox + w - 15, tp = oy + 25, bt = oy + h - 40;
            g.setColor(Color.BLACK);
            g.drawString((insertion ? "insertion: " : "deletion: ") + task[t] + " accuracy", l, oy + 15);
            g.drawRect(l, tp, rt - l, bt - tp);
            for (int k = 0; k <= 4; k++) {
                int py = bt - (bt - tp) * k / 4;
                g.drawString(String.format(Locale.ROOT, "%.0f%%", 25.0 * k), ox + 8, py + 4);
                int px = l + (rt - l) * k / 4;
                g.drawString(String.format(Locale.ROOT, "%.2f", 0.25 * k), px - 12, bt + 15);
            }
            g.drawString("fraction of patches " + (insertion ? "kept" : "removed"), l + 40, bt + 32);
            for (int m = 0; m < names.size(); m++) {
                Map<String, MapFaithfulness.Curves> c = r.curves();
                double[] y = insertion ? c.get(names.get(m)).insertion()[t] : c.get(names.get(m)).deletion()[t];
                g.setColor(names.get(m).equals(MapFaithfulness.RANDOM) ? SERIES[3] : SERIES[m % 3]);
                g.setStroke(new BasicStroke(2f));
                for (int k = 1; k < y.length; k++)
                    g.drawLine(l + (int) ((rt - l) * MapFaithfulness.FRACTIONS[k - 1]), bt - (int) ((bt - tp) * y[k - 1]),
                            l + (int) ((rt - l) * MapFaithfulness.FRACTIONS[k]), bt - (int) ((bt - tp) * y[k]));
                g.drawString(names.get(m), rt - 118, tp + 16 + 15 * m);
            }
            g.setStroke(new BasicStroke(1f));
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }
}
