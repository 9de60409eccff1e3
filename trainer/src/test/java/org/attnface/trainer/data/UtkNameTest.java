package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class UtkNameTest {
    @Test
    void wellFormedNameGivesAllThreeLabels() {
        UtkName n = UtkName.parse("26_1_2_20170116174525125.jpg.chip.jpg");
        assertEquals(26, n.age());
        assertEquals(1, n.gender());
        assertEquals(2, n.race());
        assertNull(n.problem());
    }

    /** The 8 malformed names of the public set (data/README.md): age and gender are still read, the problem is named. */
    @Test
    void theEightMalformedNamesKeepAgeAndGender() {
        Object[][] cases = {
                {"61_1_20170109150557335.jpg.chip.jpg", 61, 1, -1, "race missing"},
                {"61_1_20170109142408075.jpg.chip.jpg", 61, 1, -1, "race missing"},
                {"39_1_20170116174525125.jpg.chip.jpg", 39, 1, -1, "race missing"},
                {"24_0_1_20170116220224657 .jpg.chip.jpg", 24, 0, 1, "space before the extension"},
                {"55_0_0_20170116232725357jpg.chip.jpg", 55, 0, 0, "dot missing before the extension"},
                {"14_0_0_2017011022340900.jpg.chip.jpg", 14, 0, 0, "date has 16 digits, not 17"},
                {"28_1_2_201701161846515488.jpg.chip.jpg", 28, 1, 2, "date has 18 digits, not 17"},
                {"38_0_1_201701162330572788.jpg.chip.jpg", 38, 0, 1, "date has 18 digits, not 17"},
        };
        for (Object[] c : cases) {
            UtkName n = UtkName.parse((String) c[0]);
            assertEquals(c[1], n.age(), (String) c[0]);
            assertEquals(c[2], n.gender(), (String) c[0]);
            assertEquals(c[3], n.race(), (String) c[0]);
            assertNotNull(n.problem());
            assertEquals(c[4], n.problem(), (String) c[0]);
        }
    }

    @Test
    void unreadableNamesAreRefusedWithAReason() {
        assertThrows(IllegalArgumentException.class, () -> UtkName.parse("notes.txt"));
        assertEquals("gender 2 is outside 0 (male) and 1 (female)",
                assertThrows(IllegalArgumentException.class, () -> UtkName.parse("25_2_0_20170116174525125.jpg.chip.jpg")).getMessage());
        assertEquals("gender 10 is outside 0 (male) and 1 (female)",
                assertThrows(IllegalArgumentException.class, () -> UtkName.parse("25_10_0_20170116174525125.jpg.chip.jpg")).getMessage());
        assertEquals("age 999 is outside 0-116",
                assertThrows(IllegalArgumentException.class, () -> UtkName.parse("999_0_0_20170116174525125.jpg.chip.jpg")).getMessage());
        assertEquals("age 117 is outside 0-116",
                assertThrows(IllegalArgumentException.class, () -> UtkName.parse("117_0_0_20170116174525125.jpg.chip.jpg")).getMessage());
        assertEquals("age 123456789012... is outside 0-116",
                assertThrows(IllegalArgumentException.class, () -> UtkName.parse("12345678901234567890_0_0_20170116174525125.jpg.chip.jpg")).getMessage());
    }

    /** Issue #32: the accepted ranges are UTKFace's, and a field out of range is named with its value, not reported as missing. */
    @Test
    void rangesAreUtkFacesAndOutOfRangeFieldsAreNamed() {
        assertEquals(0, UtkName.parse("0_1_4_20170116174525125.jpg.chip.jpg").age(), "age 0 (a newborn) is in UTKFace's range");
        assertNull(UtkName.parse("0_1_4_20170116174525125.jpg.chip.jpg").problem());
        assertEquals(116, UtkName.parse("116_0_0_20170116174525125.jpg.chip.jpg").age());
        UtkName race5 = UtkName.parse("30_1_5_20170116174525125.jpg.chip.jpg");
        assertEquals(30, race5.age());
        assertEquals(1, race5.gender());
        assertEquals(-1, race5.race());
        assertEquals("race 5 is outside 0-4 (White, Black, Asian, Indian, Others)", race5.problem());
        assertEquals("race 12 is outside 0-4 (White, Black, Asian, Indian, Others); date has 3 digits, not 17",
                UtkName.parse("30_1_12_201.jpg.chip.jpg").problem());
        assertEquals("race 04 is outside 0-4 (White, Black, Asian, Indian, Others)", UtkName.parse("30_1_04_20170116174525125.jpg.chip.jpg").problem());
    }
}
