package org.attnface.trainer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.attnface.engine.Device;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.data.FaceDecoder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Resize;
import org.attnface.trainer.data.UnusableImageException;
import org.attnface.trainer.train.Checkpoint;
import org.attnface.trainer.train.TrainConfig;

/** A checkpoint loaded for inference, and single images prepared exactly as in training. */
record Inference(Path checkpoint, AgeGenderModel model, ModelConfig config, TrainConfig trainConfig, int cacheSize) {

    static Inference load(Path checkpoint, Device device) throws IOException {
        return load(checkpoint, device, null, null);
    }

    /**
     * Loads a checkpoint; when arch or buckets are given (the user's --model, --buckets) the
     * checkpoint must match them, else this throws with the field that differs.
     */
    static Inference load(Path checkpoint, Device device, String arch, String buckets) throws IOException {
        if (!Files.isRegularFile(checkpoint)) throw new java.nio.file.NoSuchFileException(checkpoint.toString(), null, "checkpoint not found");
        Checkpoint.Loaded c = Checkpoint.read(checkpoint);
        ModelConfig mc = c.modelConfig();
        TrainConfig tc = c.trainConfig();
        if (arch != null || buckets != null) {
            ModelConfig asked = new ModelConfig(arch != null ? Arch.parse(arch) : mc.arch(), mc.imageSize(),
                    buckets != null ? AgeBuckets.parse(buckets) : mc.buckets(), mc.resnetDepth(), mc.resnetWidth(), mc.attnWidth(), mc.attention(),
                    mc.feedGender(), mc.detachGender(), mc.dropout(), mc.auxHeads());
            try {
                mc.checkCompatible(asked);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("refusing " + checkpoint + ": " + e.getMessage(), e);
            }
        }
        AgeGenderModel model = Models.create(mc, device, 0);
        c.loadModel(model);
        model.eval();
        // Faces are cached at image size x 9/8 by default; a checkpoint written by the trainer says which.
        int cacheSize = tc != null ? tc.cacheSize() : mc.imageSize() * 9 / 8;
        return new Inference(checkpoint, model, mc, tc, cacheSize);
    }

    /** --attn-weight of eval and predict: the ensemble's attn share; any other model accepts only the default 0.5. */
    void setAttnWeight(float w) {
        if (model instanceof Ensemble e) e.setAttnWeight(w);
        else if (w != 0.5f) throw new IllegalArgumentException("--attn-weight applies to an ensemble checkpoint; " + checkpoint + " is " + config.arch());
    }

    /**
     * One image file as a one-image FaceSet at the cache size (decoded, centre-cropped square,
     * area-averaged), so the centre crop taken from it matches what validation saw in training.
     */
    FaceSet image(Path file) throws IOException, UnusableImageException {
        FaceDecoder.Decoded d = FaceDecoder.decode(Files.readAllBytes(file), file.getFileName().toString());
        byte[] px = Resize.squareAreaAverage(d.rgb(), d.width(), d.height(), cacheSize);
        return new FaceSet(cacheSize, new String[] {file.getFileName().toString()}, new int[1], new int[1], new int[] {-1},
                new byte[][] {new byte[32]}, px, d.note() == null ? List.of() : List.of(d.note()));
    }
}
