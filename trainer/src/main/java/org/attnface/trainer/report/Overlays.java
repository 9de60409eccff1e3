package org.attnface.trainer.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Attention pictures: the face enlarged, the spatial transformer's sampling region, heat maps over the face. */
public final class Overlays {
    private Overlays() {}

    /** An RGB HWC crop as an image enlarged {@code scale} times (nearest neighbour: the pixels the network saw). */
    public static BufferedImage face(byte[] rgb, int size, int scale) {
        BufferedImage img = new BufferedImage(size * scale, size * scale, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size * scale; y++)
            for (int x = 0; x < size * scale; x++) {
                int o = ((y / scale) * size + x / scale) * 3;
                img.setRGB(x, y, ((rgb[o] & 0xFF) << 16) | ((rgb[o + 1] & 0xFF) << 8) | (rgb[o + 2] & 0xFF));
            }
        return img;
    }

    /**
     * Draws where the affine grid samples: theta (2x3, row-major) maps the output's normalised
     * corners (+-1, +-1) to input coordinates; with align_corners = false, -1 and +1 are the
     * outer edges of the first and last pixel.
     */
    public static BufferedImage samplingRegion(BufferedImage face, float[] theta) {
        BufferedImage img = copy(face);
        int w = img.getWidth(), h = img.getHeight();
        double[][] corners = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
        Polygon poly = new Polygon();
        for (double[] c : corners) {
            double xs = theta[0] * c[0] + theta[1] * c[1] + theta[2];
            double ys = theta[3] * c[0] + theta[4] * c[1] + theta[5];
            poly.addPoint((int) Math.round((xs + 1) / 2 * w), (int) Math.round((ys + 1) / 2 * h));
        }
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setStroke(new BasicStroke(3f));
        g.setColor(new Color(0, 255, 0));
        g.drawPolygon(poly);
        g.setColor(new Color(0, 255, 0, 50));
        g.fillPolygon(poly);
        g.dispose();
        return img;
    }

    /** A [0,1] map resized bilinearly to the face and blended over it with a blue-to-red colour scale. */
    public static BufferedImage heat(BufferedImage face, float[][] map, float alpha) {
        BufferedImage img = copy(face);
        int w = img.getWidth(), h = img.getHeight();
        int mh = map.length, mw = map[0].length;
        for (int y = 0; y < h; y++) {
            double sy = Math.max(0, Math.min(mh - 1, (y + 0.5) * mh / h - 0.5));
            int y0 = (int) sy, y1 = Math.min(mh - 1, y0 + 1);
            double fy = sy - y0;
            for (int x = 0; x < w; x++) {
                double sx = Math.max(0, Math.min(mw - 1, (x + 0.5) * mw / w - 0.5));
                int x0 = (int) sx, x1 = Math.min(mw - 1, x0 + 1);
                double fx = sx - x0;
                double v = (1 - fy) * ((1 - fx) * map[y0][x0] + fx * map[y0][x1]) + fy * ((1 - fx) * map[y1][x0] + fx * map[y1][x1]);
                v = Double.isFinite(v) ? Math.max(0, Math.min(1, v)) : 0;
                int heat = jet(v);
                int base = img.getRGB(x, y);
                img.setRGB(x, y, blend(base, heat, alpha));
            }
        }
        return img;
    }

    /** The "jet" colour scale: 0 blue, 0.5 green-yellow, 1 red. */
    public static int jet(double v) {
        double r = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - 3)));
        double g = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - 2)));
        double b = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - 1)));
        return ((int) (255 * r) << 16) | ((int) (255 * g) << 8) | (int) (255 * b);
    }

    private static int blend(int a, int b, float t) {
        int r = (int) (((a >> 16) & 0xFF) * (1 - t) + ((b >> 16) & 0xFF) * t);
        int g = (int) (((a >> 8) & 0xFF) * (1 - t) + ((b >> 8) & 0xFF) * t);
        int bl = (int) ((a & 0xFF) * (1 - t) + (b & 0xFF) * t);
        return (r << 16) | (g << 8) | bl;
    }

    private static BufferedImage copy(BufferedImage src) {
        BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.dispose();
        return img;
    }
}
