package org.attnface.trainer.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;

import org.attnface.model.Explanation;

/**
 * One labelled picture of what a model saw in one face: a header with the prediction, then one
 * row per network (two for an ensemble): the face with the spatial transformer's sampling region
 * (attn) or the face alone, the Grad-CAM maps of its predicted gender and age bucket (with class
 * and probability), and the activation maps of an early and a later layer; a colour key at the
 * bottom. Panels are {@link #PANEL} pixels whatever the network's input size, so the picture reads
 * the same for 64x64 and 128x128 models.
 */
public final class Overview {
    private Overview() {}

    /** Panel side in pixels: 5 panels make a 1,328-pixel-wide picture. */
    public static final int PANEL = 256;
    static final int GAP = 8, CAPTION = 22, ROW_TITLE = 28, HEADER_LINE = 24, KEY = 44, COLUMNS = 5;

    /** A network ("attn member", "resnet network"), its explanation and its own predicted gender and age bucket (the classes its Grad-CAM maps are of). */
    public record Row(String network, Explanation explanation, String gender, double genderProbability, String ageBucket, double ageProbability) {}

    /** The overview of the RGB HWC crop {@code rgb} (size x size, as the networks saw it). */
    public static BufferedImage draw(byte[] rgb, int size, List<String> header, List<Row> rows) {
        int scale = Math.max(1, Math.round(PANEL / (float) size));
        BufferedImage face = Overlays.face(rgb, size, scale);
        if (face.getWidth() != PANEL) face = resize(face, PANEL);
        int width = COLUMNS * PANEL + (COLUMNS + 1) * GAP;
        int rowHeight = ROW_TITLE + CAPTION + PANEL + GAP;
        int top = GAP + header.size() * HEADER_LINE + GAP;
        int height = top + rows.size() * rowHeight + KEY;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(new Color(20, 20, 20));
        for (int i = 0; i < header.size(); i++) {
            g.setFont(new Font(Font.SANS_SERIF, i == 0 ? Font.BOLD : Font.PLAIN, i == 0 ? 18 : 16));
            g.drawString(header.get(i), GAP, GAP + (i + 1) * HEADER_LINE - 6);
        }
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            Explanation ex = row.explanation();
            int y = top + r * rowHeight;
            g.setColor(new Color(20, 20, 20));
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
            g.drawString(String.format(Locale.ROOT, "%s: %s %.0f%%, age %s %.0f%%", row.network(), row.gender(),
                    100 * row.genderProbability(), row.ageBucket(), 100 * row.ageProbability()), GAP, y + ROW_TITLE - 8);
            String[] captions = {
                    ex.theta() != null ? "attention region (in green)" : "input (no spatial transformer)",
                    String.format(Locale.ROOT, "Grad-CAM gender: %s %.0f%%", row.gender(), 100 * row.genderProbability()),
                    String.format(Locale.ROOT, "Grad-CAM age: %s %.0f%%", row.ageBucket(), 100 * row.ageProbability()),
                    "activation, early layer", "activation, later layer"};
            BufferedImage[] panels = {
                    ex.theta() != null ? Overlays.samplingRegion(face, ex.theta()) : face,
                    heatOrBlank(face, ex.gradCamGender()), heatOrBlank(face, ex.gradCamAge()),
                    heatOrBlank(face, ex.activation1()), heatOrBlank(face, ex.activation2())};
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
            for (int c = 0; c < COLUMNS; c++) {
                int x = GAP + c * (PANEL + GAP);
                g.setColor(new Color(60, 60, 60));
                g.drawString(captions[c], x, y + ROW_TITLE + CAPTION - 6);
                g.drawImage(panels[c], x, y + ROW_TITLE + CAPTION, null);
            }
        }
        drawKey(g, GAP, height - KEY + 8);
        g.dispose();
        return img;
    }

    /** The heat maps' colour scale, labelled: low (blue) to high (red) relevance or activation, each map scaled to its own maximum. */
    private static void drawKey(Graphics2D g, int x, int y) {
        int w = 300, h = 14;
        for (int i = 0; i < w; i++) {
            g.setColor(new Color(Overlays.jet(i / (double) (w - 1))));
            g.fillRect(x + 40 + i, y, 1, h);
        }
        g.setColor(new Color(20, 20, 20));
        g.setStroke(new BasicStroke(1f));
        g.drawRect(x + 40, y, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        g.drawString("low", x, y + h - 2);
        g.drawString("high    (each map scaled to its own maximum)", x + 48 + w, y + h - 2);
    }

    private static BufferedImage heatOrBlank(BufferedImage face, float[][] map) {
        if (map != null) return Overlays.heat(face, map, 0.5f);
        BufferedImage blank = new BufferedImage(face.getWidth(), face.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = blank.createGraphics();
        g.setColor(new Color(235, 235, 235));
        g.fillRect(0, 0, blank.getWidth(), blank.getHeight());
        g.setColor(Color.GRAY);
        g.drawString("not available for this network", 20, blank.getHeight() / 2);
        g.dispose();
        return blank;
    }

    private static BufferedImage resize(BufferedImage src, int side) {
        BufferedImage out = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
        g.drawImage(src, 0, 0, side, side, null);
        g.dispose();
        return out;
    }
}
