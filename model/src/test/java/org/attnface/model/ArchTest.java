package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class ArchTest {
    @Test
    void namesRoundTripAndABadNameListsTheValidOnes() {
        for (Arch a : Arch.values()) assertEquals(a, Arch.parse(a.toString()));
        assertEquals(java.util.List.of("attn", "resnet", "ensemble"), Arch.NAMES);
        assertEquals("attn, resnet or ensemble", Arch.choices());
        for (String bad : new String[] {"vgg", "ATTN", "", " attn"}) {
            String m = assertThrows(IllegalArgumentException.class, () -> Arch.parse(bad)).getMessage();
            assertEquals("unknown model '" + bad + "': choose one of [attn, resnet, ensemble]", m);
        }
    }

    @Test
    void checkpointMetadataWithAnUnknownModelNamesIt() {
        Map<String, String> m = new java.util.HashMap<>(ModelConfig.defaults(Arch.ATTN, 64).toMetadata());
        assertEquals("attn", m.get("model.arch"), "metadata holds the lower-case name");
        m.put("model.arch", "vgg");
        String msg = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromMetadata(m)).getMessage();
        assertTrue(msg.contains("'vgg'") && msg.contains("[attn, resnet, ensemble]"), msg);
    }
}
