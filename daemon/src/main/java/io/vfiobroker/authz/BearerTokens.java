package io.vfiobroker.authz;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/** Bearer tokens for the TCP listeners (gRPC and HTTP): one per line in a file, kept only as SHA-256 digests. */
public final class BearerTokens {

    private final List<byte[]> digests;

    private BearerTokens(List<byte[]> digests) {
        this.digests = digests;
    }

    public static BearerTokens none() {
        return new BearerTokens(List.of());
    }

    /** @param file null = no tokens; lines that are blank or start with '#' are skipped */
    public static BearerTokens load(Path file) throws IOException {
        List<byte[]> out = new ArrayList<>();
        if (file == null) return new BearerTokens(out);
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) continue;
            // Short tokens are guessable; refuse them rather than accept a weak door.
            if (t.length() < 16) throw new IllegalStateException("a bearer token in " + file + " is shorter than 16 characters");
            out.add(sha256(t));
        }
        return new BearerTokens(List.copyOf(out));
    }

    public boolean isEmpty() {
        return digests.isEmpty();
    }

    public int size() {
        return digests.size();
    }

    /** Whether an {@code Authorization} header value is "Bearer" and one of the tokens. */
    public boolean accepts(String header) {
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() > 4096) return false;
        byte[] h = sha256(header.substring(7).strip());
        boolean ok = false;
        for (byte[] t : digests) ok |= MessageDigest.isEqual(t, h); // no early exit: constant time over the list
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
