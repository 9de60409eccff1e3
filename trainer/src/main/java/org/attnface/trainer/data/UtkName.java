package org.attnface.trainer.data;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Labels read from a UTKFace file name {@code AGE_GENDER_RACE_DATETIME.jpg.chip.jpg}.
 * Parsing is lenient: the 8 malformed names of the public set (race missing, a space or a
 * missing dot before the extension, a date of the wrong length) still give age and gender;
 * {@code problem} says what was wrong (null for a well-formed name), race is -1 when missing.
 */
public record UtkName(int age, int gender, int race, String problem) {
    private static final Pattern STRICT = Pattern.compile("(\\d{1,3})_([01])_([0-4])_(\\d{17})\\.jpg\\.chip\\.jpg");
    private static final Pattern AGE_GENDER = Pattern.compile("(\\d{1,3})_([01])_(.*)", Pattern.DOTALL);
    private static final Pattern RACE_THEN_REST = Pattern.compile("([0-4])_(.*)", Pattern.DOTALL);
    private static final Pattern DATE_THEN_EXT = Pattern.compile("(\\d+)(.*)", Pattern.DOTALL);
    /** Oldest age in UTKFace is 116; anything above this is a typo, not a person. */
    public static final int MAX_AGE = 120;

    public static final String[] RACES = {"White", "Black", "Asian", "Indian", "Others"};

    /** Parses a file name; throws IllegalArgumentException (the reason) when age or gender cannot be read. */
    public static UtkName parse(String fileName) {
        Matcher m = STRICT.matcher(fileName);
        if (m.matches()) return new UtkName(age(m.group(1), fileName), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), null);
        Matcher ag = AGE_GENDER.matcher(fileName);
        if (!ag.matches()) throw new IllegalArgumentException("name does not start with AGE_GENDER_ (age digits, gender 0 or 1)");
        int age = age(ag.group(1), fileName);
        int gender = Integer.parseInt(ag.group(2));
        String rest = ag.group(3);
        int race = -1;
        String problem;
        Matcher r = RACE_THEN_REST.matcher(rest);
        if (r.matches() && !rest.matches("\\d{10,}.*")) {
            race = Integer.parseInt(r.group(1));
            rest = r.group(2);
            problem = describeTail(rest);
        } else {
            problem = "race missing";
        }
        if (problem == null) problem = "unusual name";
        return new UtkName(age, gender, race, problem);
    }

    private static int age(String digits, String fileName) {
        int age = Integer.parseInt(digits);
        if (age > MAX_AGE) throw new IllegalArgumentException("age " + age + " is above " + MAX_AGE);
        return age;
    }

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
