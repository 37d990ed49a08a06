package io.vfiobroker.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Optional;

/**
 * What tells whether a file changed since it was parsed: size and mtime for edits and appends, the file key
 * (device and inode) for a replacement renamed over it. Lets a parse be kept until the file changes.
 */
public record FileVersion(long size, FileTime modified, Object key) {

    /** Empty when the file does not exist. */
    public static Optional<FileVersion> of(Path file) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return Optional.of(new FileVersion(a.size(), a.lastModifiedTime(), a.fileKey()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }
}
