package org.attnface.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.Json;

/**
 * Everything that fixes a network's shape and behaviour. It is saved in every checkpoint's
 * metadata ({@link #toMetadata()}), so a checkpoint can rebuild its network and refuse to load
 * into another one ({@link #checkCompatible}).
 *
 * @param arch          attn, resnet or ensemble (both, averaged)
 * @param imageSize     square input side in pixels (64 for the reference configurations)
 * @param buckets       the age-bucket scheme (number of age classes)
 * @param resnetDepth   10, 18 or 34 (BasicBlock ResNets)
 * @param resnetWidth   channels of the ResNet's first stage (64 in torchvision; stages double it)
 * @param attnWidth     channels of the attn network's four trunk convolutions (10 in MODELS.md)
 * @param attention     attn only: false skips the spatial transformer, the trunk sees the raw image (RQ1)
 * @param feedGender    the age head sees the gender probabilities besides the features (RQ3)
 * @param detachGender  the gender probabilities fed to the age head carry no gradient back
 * @param dropout       attn only: dropout before the trunk's linear layer (0.5 in MODELS.md)
 * @param auxHeads      two training-only heads on the same features: race (5-way) and age in
 *                      5-year bins (17-way); they add supervision from labels UTKFace carries
 *                      and play no part in the predictions ({@link AuxLabels})
 */
public record ModelConfig(Arch arch, int imageSize, AgeBuckets buckets, int resnetDepth, int resnetWidth, int attnWidth,
                          boolean attention, boolean feedGender, boolean detachGender, float dropout, boolean auxHeads) {

    /** The BasicBlock ResNets {@link org.attnface.model.resnet.ResNet} builds. */
    public static final List<Integer> RESNET_DEPTHS = List.of(10, 18, 34);

    /** The smallest input the attn network's four unpadded convolutions and pools accept with a non-empty map. */
    public static final int MIN_IMAGE_SIZE = 24;

    /** Largest input side and ResNet width accepted: 16x the reference, so a corrupt checkpoint cannot ask for a terabyte network. */
    public static final int MAX_IMAGE_SIZE = 1024, MAX_RESNET_WIDTH = 1024, MAX_ATTN_WIDTH = 1024;

    /** MODELS.md's attn trunk: 10 channels (and what checkpoints written before attnWidth existed hold). */
    public static final int ATTN_WIDTH = 10;

    public ModelConfig {
        if (arch == null) throw new IllegalArgumentException("model missing: choose one of " + Arch.NAMES);
        if (imageSize < MIN_IMAGE_SIZE)
            throw new IllegalArgumentException("image size " + imageSize + " is too small: at least " + MIN_IMAGE_SIZE + " pixels");
        if (imageSize > MAX_IMAGE_SIZE)
            throw new IllegalArgumentException("image size " + imageSize + " is too large: at most " + MAX_IMAGE_SIZE + " pixels");
        if (buckets == null) throw new IllegalArgumentException("age buckets missing");
        if (!RESNET_DEPTHS.contains(resnetDepth))
            throw new IllegalArgumentException("ResNet depth " + resnetDepth + " is not supported: choose 10, 18 or 34");
        if (resnetWidth < 1 || resnetWidth > MAX_RESNET_WIDTH)
            throw new IllegalArgumentException("ResNet width must be in [1, " + MAX_RESNET_WIDTH + "], got " + resnetWidth);
        if (attnWidth < 1 || attnWidth > MAX_ATTN_WIDTH)
            throw new IllegalArgumentException("attn width must be in [1, " + MAX_ATTN_WIDTH + "], got " + attnWidth);
        if (!(dropout >= 0f && dropout < 1f)) throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
    }

    /** Without the auxiliary heads (the paper's networks). */
    public ModelConfig(Arch arch, int imageSize, AgeBuckets buckets, int resnetDepth, int resnetWidth, int attnWidth,
                       boolean attention, boolean feedGender, boolean detachGender, float dropout) {
        this(arch, imageSize, buckets, resnetDepth, resnetWidth, attnWidth, attention, feedGender, detachGender, dropout, false);
    }

    /** MODELS.md's reference configuration: decades to 70+, ResNet-18 of width 64, attn trunk of 10 channels, attention on, gender fed (not detached), dropout 0.5. */
    public static ModelConfig defaults(Arch arch, int imageSize) {
        return new ModelConfig(arch, imageSize, AgeBuckets.decades(), 18, 64, ATTN_WIDTH, true, true, false, 0.5f);
    }

    /** The same configuration for another architecture (the ensemble builds its two networks with it). */
    public ModelConfig withArch(Arch a) {
        return new ModelConfig(a, imageSize, buckets, resnetDepth, resnetWidth, attnWidth, attention, feedGender, detachGender, dropout, auxHeads);
    }

    /** The same configuration with or without the auxiliary heads. */
    public ModelConfig withAuxHeads(boolean aux) {
        return new ModelConfig(arch, imageSize, buckets, resnetDepth, resnetWidth, attnWidth, attention, feedGender, detachGender, dropout, aux);
    }

    /** String metadata for a safetensors header; keys start with "model.". */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model.arch", arch.toString());
        m.put("model.image_size", Integer.toString(imageSize));
        m.put("model.age_buckets", buckets.spec());
        m.put("model.resnet_depth", Integer.toString(resnetDepth));
        m.put("model.resnet_width", Integer.toString(resnetWidth));
        m.put("model.attn_width", Integer.toString(attnWidth));
        m.put("model.attention", Boolean.toString(attention));
        m.put("model.feed_gender", Boolean.toString(feedGender));
        m.put("model.detach_gender", Boolean.toString(detachGender));
        m.put("model.dropout", Float.toString(dropout));
        m.put("model.aux_heads", Boolean.toString(auxHeads));
        return m;
    }

    /**
     * The inverse of {@link #toMetadata()}; other keys are ignored, a missing or malformed one is
     * an error naming it, except model.attn_width and model.aux_heads, absent in checkpoints written
     * before they existed (MODELS.md's 10, and no auxiliary heads).
     */
    public static ModelConfig fromMetadata(Map<String, String> m) {
        return new ModelConfig(
                Arch.parse(get(m, "model.arch")),
                intOf(m, "model.image_size"),
                AgeBuckets.parse(get(m, "model.age_buckets")),
                intOf(m, "model.resnet_depth"),
                intOf(m, "model.resnet_width"),
                m.containsKey("model.attn_width") ? intOf(m, "model.attn_width") : ATTN_WIDTH,
                boolOf(m, "model.attention"),
                boolOf(m, "model.feed_gender"),
                boolOf(m, "model.detach_gender"),
                floatOf(m, "model.dropout"),
                m.containsKey("model.aux_heads") && boolOf(m, "model.aux_heads"));
    }

    /**
     * Refuses to use this configuration's weights (a checkpoint's) for the {@code asked}
     * network when any field that shapes the weights or the meaning of the outputs differs:
     * the message names the field and both values. detachGender and dropout only change
     * training and are not compared.
     */
    public void checkCompatible(ModelConfig asked) {
        if (arch != asked.arch)
            throw new IllegalArgumentException("checkpoint is for model '" + arch + "' but '" + asked.arch + "' was asked");
        if (!buckets.equals(asked.buckets))
            throw new IllegalArgumentException("checkpoint uses age buckets " + buckets.spec() + " but " + asked.buckets.spec() + " was asked");
        if (imageSize != asked.imageSize)
            throw new IllegalArgumentException("checkpoint is for " + imageSize + "x" + imageSize + " images but "
                    + asked.imageSize + "x" + asked.imageSize + " was asked");
        boolean hasResnet = arch.hasResnet(), hasAttn = arch.hasAttn();
        if (hasResnet && resnetDepth != asked.resnetDepth)
            throw new IllegalArgumentException("checkpoint is a ResNet-" + resnetDepth + " but ResNet-" + asked.resnetDepth + " was asked");
        if (hasResnet && resnetWidth != asked.resnetWidth)
            throw new IllegalArgumentException("checkpoint has ResNet width " + resnetWidth + " but width " + asked.resnetWidth + " was asked");
        if (hasAttn && attnWidth != asked.attnWidth)
            throw new IllegalArgumentException("checkpoint has attn width " + attnWidth + " but width " + asked.attnWidth + " was asked");
        if (hasAttn && attention != asked.attention)
            throw new IllegalArgumentException("checkpoint was trained with attention " + (attention ? "on" : "off")
                    + " but attention " + (asked.attention ? "on" : "off") + " was asked");
        if (auxHeads != asked.auxHeads)
            throw new IllegalArgumentException("checkpoint " + (auxHeads ? "has" : "has no") + " auxiliary race and fine-age heads"
                    + " but a network " + (asked.auxHeads ? "with" : "without") + " them was asked");
        if (feedGender != asked.feedGender)
            throw new IllegalArgumentException("checkpoint " + (feedGender ? "feeds" : "does not feed")
                    + " gender probabilities to the age head (feedGender " + feedGender + ") but feedGender " + asked.feedGender + " was asked");
    }

    private static String get(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("model metadata lacks '" + key + "' (is this an attnface checkpoint?)");
        return v;
    }

    private static int intOf(Map<String, String> m, String key) {
        String v = get(m, key);
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("model metadata '" + key + "' = '" + Json.shown(v) + "' is not an integer");
        }
    }

    private static float floatOf(Map<String, String> m, String key) {
        String v = get(m, key);
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("model metadata '" + key + "' = '" + Json.shown(v) + "' is not a number");
        }
    }

    private static boolean boolOf(Map<String, String> m, String key) {
        String v = get(m, key).trim();
        if (v.equals("true")) return true;
        if (v.equals("false")) return false;
        throw new IllegalArgumentException("model metadata '" + key + "' = '" + Json.shown(v) + "' is not true or false");
    }
}
