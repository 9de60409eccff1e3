package org.attnface.trainer.data;

import org.attnface.engine.Device;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.AugmentSpec;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.ImageStore;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AuxLabels;

/**
 * Makes batches from a {@link FaceSet} held by the backend (uint8, uploaded once): the
 * backend crops, flips, jitters and normalises on the device. Everything random is a pure
 * function of (seed, epoch) for the order and (seed, step) for the augmentation, so a
 * resumed run sees exactly the batches an uninterrupted one would.
 */
public final class Batches implements AutoCloseable {
    private final FaceSet set;
    private final Device device;
    private final Backend backend;
    private final ImageStore store;
    private final int crop;
    private final float[] genderOf, bucketOf, raceOf, fineAgeOf;

    public Batches(FaceSet set, Device device, int crop, AgeBuckets buckets) {
        if (crop > set.size())
            throw new IllegalArgumentException("image size " + crop + " is larger than the cached " + set.size() + "x" + set.size() + " images");
        this.set = set;
        this.device = device;
        this.backend = Backends.of(device);
        this.store = backend.uploadImages(set.pixels(), set.count(), set.size(), set.size());
        this.crop = crop;
        this.genderOf = new float[set.count()];
        this.bucketOf = new float[set.count()];
        this.raceOf = new float[set.count()];
        this.fineAgeOf = new float[set.count()];
        for (int i = 0; i < set.count(); i++) {
            genderOf[i] = set.genders()[i];
            bucketOf[i] = buckets.bucketOf(set.ages()[i]);
            // The few names without a race (8 of UTKFace's 20,269, UtkName) count as "Others".
            raceOf[i] = set.races()[i] >= 0 ? set.races()[i] : AuxLabels.RACES - 1;
            fineAgeOf[i] = AuxLabels.fineAgeBin(set.ages()[i]);
        }
    }

    public FaceSet set() { return set; }

    /** The order of the training images in an epoch: a permutation seeded by (seed, epoch). */
    public static int[] epochOrder(int[] trainIndices, long seed, int epoch) {
        int[] p = FaceFolder.permutation(trainIndices.length, Rng.derive(seed, 1_000_000L + epoch));
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) out[i] = trainIndices[p[i]];
        return out;
    }

    /** The augmentation seed of a global training step. */
    public static long augmentSeed(long seed, long step) { return Rng.derive(seed, 2_000_000_000L + step); }

    /** A normalised [n,3,crop,crop] batch in the current TensorScope; train enables the random augmentations. */
    public Tensor images(int[] index, boolean train, long augmentSeed) {
        Tensor x = Tensor.empty(device, index.length, 3, crop, crop);
        backend.augmentImages(store, index, AugmentSpec.of(crop, train), augmentSeed, x);
        return x;
    }

    public Tensor genderLabels(int[] index) { return labels(index, genderOf); }

    public Tensor bucketLabels(int[] index) { return labels(index, bucketOf); }

    /** The auxiliary heads' labels: race and the age in 5-year bins ({@link AuxLabels#fineAgeBin}). */
    public AuxLabels auxLabels(int[] index) { return new AuxLabels(labels(index, raceOf), labels(index, fineAgeOf)); }

    private Tensor labels(int[] index, float[] of) {
        float[] v = new float[index.length];
        for (int i = 0; i < index.length; i++) v[i] = of[index[i]];
        return Tensor.of(device, v, index.length);
    }

    @Override public void close() { store.close(); }
}
