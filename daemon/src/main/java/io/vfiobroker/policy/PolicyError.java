package io.vfiobroker.policy;

/**
 * One problem in a policy file.
 *
 * @param line   1-based line, 0 when the problem is not tied to a place in the file
 * @param column 1-based column, 0 likewise
 * @param key    dotted path of the key, e.g. "rules[2].limits.backend"; empty for the document itself
 */
public record PolicyError(int line, int column, String key, String message) {

    @Override
    public String toString() {
        String where = line > 0 ? "line " + line + ", column " + column : "file";
        return where + (key.isEmpty() ? "" : ", " + key) + ": " + message;
    }
}
