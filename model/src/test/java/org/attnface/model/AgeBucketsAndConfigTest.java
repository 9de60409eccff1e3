package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class AgeBucketsAndConfigTest {

    @Test
    void decadesAreEightBucketsCappedAt70() {
        AgeBuckets b = AgeBuckets.decades();
        assertEquals(8, b.count());
        assertEquals("0,10,20,30,40,50,60,70", b.spec());
        assertEquals(b, AgeBuckets.parse(" 0, 10,20,30,40,50,60,70"));
        assertEquals(0, b.bucketOf(0));
        assertEquals(0, b.bucketOf(9));
        assertEquals(1, b.bucketOf(10));
        assertEquals(6, b.bucketOf(69));
        assertEquals(7, b.bucketOf(70));
        assertEquals(7, b.bucketOf(116));
        assertEquals("20-29", b.label(2));
        assertEquals("70+", b.label(7));
        assertEquals(25f, b.centre(2));
        assertEquals(75f, b.centre(7));
    }

    @Test
    void badBucketSpecsAreRefusedWithTheReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgeBuckets.parse("5,10")).getMessage().contains("start at 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgeBuckets.parse("0,20,10")).getMessage().contains("increase"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AgeBuckets.parse("0,x")).getMessage().contains("'x'"));
    }

    @Test
    void configRoundTripsThroughMetadata() {
        ModelConfig c = new ModelConfig(Arch.ENSEMBLE, 128, AgeBuckets.parse("0,5,18,40,65"), 34, 32, 16, false, true, true, 0.25f);
        Map<String, String> m = c.toMetadata();
        assertEquals(c, ModelConfig.fromMetadata(m));
        assertEquals(ModelConfig.defaults(Arch.ATTN, 64), ModelConfig.fromMetadata(ModelConfig.defaults(Arch.ATTN, 64).toMetadata()));
    }

    @Test
    void missingMetadataNamesTheKey() {
        Map<String, String> m = new java.util.HashMap<>(ModelConfig.defaults(Arch.ATTN, 64).toMetadata());
        m.remove("model.age_buckets");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromMetadata(m)).getMessage().contains("model.age_buckets"));
    }

    @Test
    void checkpointsWrittenBeforeAttnWidthLoadAsMODELSmdsTen() {
        Map<String, String> m = new java.util.HashMap<>(new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 16, true, true, false, 0.5f).toMetadata());
        assertEquals(16, ModelConfig.fromMetadata(m).attnWidth());
        m.remove("model.attn_width");
        assertEquals(10, ModelConfig.fromMetadata(m).attnWidth());
        m.put("model.attn_width", "wide");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromMetadata(m)).getMessage().contains("model.attn_width"));
    }

    @Test
    void incompatibleCheckpointsNameTheField() {
        ModelConfig attn = ModelConfig.defaults(Arch.ATTN, 64);
        attn.checkCompatible(new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 34, 7, 10, true, true, true, 0.1f));
        String arch = assertThrows(IllegalArgumentException.class, () -> attn.checkCompatible(ModelConfig.defaults(Arch.RESNET, 64))).getMessage();
        assertEquals("checkpoint is for model 'attn' but 'resnet' was asked", arch);
        ModelConfig other = new ModelConfig(Arch.ATTN, 64, AgeBuckets.parse("0,20,40,60"), 18, 64, 10, true, true, false, 0.5f);
        String buckets = assertThrows(IllegalArgumentException.class, () -> attn.checkCompatible(other)).getMessage();
        assertEquals("checkpoint uses age buckets 0,10,20,30,40,50,60,70 but 0,20,40,60 was asked", buckets);
        String size = assertThrows(IllegalArgumentException.class, () -> attn.checkCompatible(ModelConfig.defaults(Arch.ATTN, 128))).getMessage();
        assertTrue(size.contains("64x64") && size.contains("128x128"), size);
        ModelConfig r18 = ModelConfig.defaults(Arch.RESNET, 64);
        ModelConfig r34 = new ModelConfig(Arch.RESNET, 64, AgeBuckets.decades(), 34, 64, 10, true, true, false, 0.5f);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> r18.checkCompatible(r34)).getMessage().contains("ResNet-34"));
        ModelConfig wide = new ModelConfig(Arch.ENSEMBLE, 64, AgeBuckets.decades(), 18, 64, 16, true, true, false, 0.5f);
        assertEquals("checkpoint has attn width 16 but width 10 was asked",
                assertThrows(IllegalArgumentException.class, () -> wide.checkCompatible(ModelConfig.defaults(Arch.ENSEMBLE, 64))).getMessage());
        r18.checkCompatible(new ModelConfig(Arch.RESNET, 64, AgeBuckets.decades(), 18, 64, 16, true, true, false, 0.5f));   // a ResNet has no attn trunk
    }
}
