package org.attnface.trainer.data;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Labels read from a UTKFace file name {@code AGE_GENDER_RACE_DATETIME.jpg.chip.jpg}. The
 * accepted ranges are UTKFace's: age 0-116, gender 0 (male) or 1 (female), race 0-4 (White,
 * Black, Asian, Indian, Others). An age or gender that cannot be read or is out of range
 * skips the file, with the field and its value named. Parsing is otherwise lenient: the 8
 * malformed names of the public set (race missing, a space or a missing dot before the
 * extension, a date of the wrong length) and a race out of range still give age and gender;
 * {@code problem} says what was wrong (null for a well-formed name), race is -1 when unknown.
 */
public record UtkName(int age, int gender, int race, String problem) {
    private static final Pattern STRICT = Pattern.compile("(\\d{1,3})_([01])_([0-4])_(\\d{17})\\.jpg\\.chip\\.jpg");
    private static final Pattern AGE_GENDER = Pattern.compile("(\\d+)_(\\d+)_(.*)", Pattern.DOTALL);
    private static final Pattern RACE_THEN_REST = Pattern.compile("(\\d{1,9})_(.*)", Pattern.DOTALL);
    private static final Pattern DATE_THEN_EXT = Pattern.compile("(\\d+)(.*)", Pattern.DOTALL);
    /** UTKFace's ages are 0 to 116 (its documentation; the files hold 1 to 116). */
    public static final int MAX_AGE = 116;

    public static final String[] RACES = {"White", "Black", "Asian", "Indian", "Others"};

    /** Parses a file name; throws IllegalArgumentException (the reason) when age or gender cannot be read or is out of range. */
    public static UtkName parse(String fileName) {
        Matcher m = STRICT.matcher(fileName);
        if (m.matches()) return new UtkName(age(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), null);
        Matcher ag = AGE_GENDER.matcher(fileName);
        if (!ag.matches()) throw new IllegalArgumentException("name does not start with AGE_GENDER_ (age 0-" + MAX_AGE + ", gender 0 or 1)");
        int age = age(ag.group(1));
        String g = ag.group(2);
        if (!g.equals("0") && !g.equals("1"))
            throw new IllegalArgumentException("gender " + shown(g) + " is outside 0 (male) and 1 (female)");
        int gender = Integer.parseInt(g);
        String rest = ag.group(3);
        int race = -1;
        String problem;
        Matcher r = RACE_THEN_REST.matcher(rest);
        if (r.matches() && !rest.matches("\\d{10,}.*")) {
            int value = Integer.parseInt(r.group(1));
            String tail = describeTail(r.group(2));
            if (value < RACES.length && r.group(1).length() == 1) {
                race = value;
                problem = tail;
            } else {
                problem = "race " + r.group(1) + " is outside 0-4 (" + String.join(", ", RACES) + ")" + (tail == null ? "" : "; " + tail);
            }
        } else {
            problem = "race missing";
        }
        if (problem == null) problem = "unusual name";
        return new UtkName(age, gender, race, problem);
    }

    private static int age(String digits) {
        if (digits.length() > 3 || Integer.parseInt(digits) > MAX_AGE)
            throw new IllegalArgumentException("age " + shown(digits) + " is outside 0-" + MAX_AGE);
        return Integer.parseInt(digits);
    }

    private static String shown(String digits) { return digits.length() > 12 ? digits.substring(0, 12) + "..." : digits; }

    /** What is wrong with "DATETIME.jpg.chip.jpg" (null when nothing is). */
    private static String describeTail(String tail) {
        Matcher d = DATE_THEN_EXT.matcher(tail);
        if (!d.matches()) return "date missing";
        String date = d.group(1), ext = d.group(2);
        if (date.length() != 17) return "date has " + date.length() + " digits, not 17";
        if (ext.equals(".jpg.chip.jpg")) return null;
        if (ext.equals(" .jpg.chip.jpg")) return "space before the extension";
        if (ext.equals("jpg.chip.jpg")) return "dot missing before the extension";
        return "extension is '" + ext + "', not '.jpg.chip.jpg'";
    }
}
