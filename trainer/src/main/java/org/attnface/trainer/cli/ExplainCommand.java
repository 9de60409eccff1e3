package org.attnface.trainer.cli;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import javax.imageio.ImageIO;

import org.attnface.engine.Device;
import org.attnface.engine.TensorScope;
import org.attnface.model.Explanation;
import org.attnface.trainer.data.ImageFiles;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.report.Overlays;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "explain", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes attention pictures for one face: the spatial transformer's sampling region (attn models),",
                "activation maps of two layers, and Grad-CAM maps for the predicted gender and age bucket, over the face;",
                "and overview.png, all of them labelled in one picture (a row per network of an ensemble). For a folder of",
                "faces: one overview per face, FACE.overview.png."})
public final class ExplainCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE_OR_DIR", description = "a face crop (any size) or a folder of them")
    Path image;

    @Option(names = "--checkpoint", required = true, description = "a .safetensors checkpoint written by train")
    Path checkpoint;

    @Option(names = "--out", required = true, description = "folder for the PNGs")
    Path out;

    @Option(names = "--scale", defaultValue = "4", description = "enlargement of the network's input in the pictures (default: ${DEFAULT-VALUE})")
    int scale;

    @Mixin DeviceOption device;

    @Override public Integer call() throws Exception {
        Device d = device.open(0, System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        if (Files.isDirectory(image) && ImageFiles.namedLikeAnImage(image))
            throw new IllegalArgumentException(image + " is a folder named like an image: name the image itself, or a folder (one not named like an image) to explain every image in it");
        if (Files.isDirectory(image)) return ExplainOverview.folder(image, Inference.load(checkpoint, d), d, out, System.out, System.err);
        String notAFile = ImageFiles.whyNotAFile(image);
        if (notAFile != null) throw new IllegalArgumentException(image + " " + notAFile);
        if (!Files.isRegularFile(image)) throw new java.nio.file.NoSuchFileException(image.toString(), null, "no such image");
        Inference inf = Inference.load(checkpoint, d);
        FaceSet one;
        try {
            one = inf.image(image);
        } catch (org.attnface.trainer.data.UnusableImageException e) {
            throw new IllegalArgumentException(image + ": " + e.getMessage(), e);
        }
        int size = inf.config().imageSize();
        byte[] crop = one.centreCrop(0, size);
        BufferedImage face = Overlays.face(crop, size, scale);
        Explanation ex;
        BufferedImage overview;
        try (Batches b = new Batches(one, d, size, inf.config().buckets()); TensorScope s = TensorScope.open()) {
            ex = inf.model().explain(b.images(new int[] {0}, false, 0));
            overview = ExplainOverview.draw(inf, b.images(new int[] {0}, false, 0), ex, crop, image);
        }
        Files.createDirectories(out);
        List<String> written = new ArrayList<>();
        write(face, out.resolve("input.png"), written);
        if (ex.theta() != null) write(Overlays.samplingRegion(face, ex.theta()), out.resolve("attention_region.png"), written);
        else System.err.println("note: " + inf.config().arch() + " has no spatial transformer; attention_region.png not written");
        if (ex.activation1() != null) write(Overlays.heat(face, ex.activation1(), 0.5f), out.resolve("activation1.png"), written);
        if (ex.activation2() != null) write(Overlays.heat(face, ex.activation2(), 0.5f), out.resolve("activation2.png"), written);
        if (ex.gradCamGender() != null) write(Overlays.heat(face, ex.gradCamGender(), 0.5f), out.resolve("gradcam_gender.png"), written);
        if (ex.gradCamAge() != null) write(Overlays.heat(face, ex.gradCamAge(), 0.5f), out.resolve("gradcam_age.png"), written);
        write(overview, out.resolve("overview.png"), written);
        System.out.println("wrote " + String.join(", ", written) + " to " + out);
        return 0;
    }

    static void write(BufferedImage img, Path file, List<String> written) throws java.io.IOException {
        if (!ImageIO.write(img, "png", file.toFile())) throw new java.io.IOException("no PNG writer for " + file);
        written.add(file.getFileName().toString());
    }
}
