package io.vfiobroker.hostgen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Files, directories and links below a generated tree's root, each named by its path relative to the root. */
final class TreeFiles {

    private final Path root;

    TreeFiles(Path root) {
        this.root = root;
    }

    boolean exists(String rel) {
        return Files.exists(root.resolve(rel));
    }

    void mkdirs(String rel) throws IOException {
        Files.createDirectories(root.resolve(rel));
    }

    void mkfile(String rel) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        if (!Files.exists(p)) Files.createFile(p);
    }

    void text(String rel, String content) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content.isEmpty() || content.endsWith("\n") ? content : content + "\n", StandardCharsets.UTF_8);
    }

    void bytes(String rel, byte[] content) throws IOException {
        Files.write(root.resolve(rel), content);
    }

    /** A symlink whose target is relative to the link's directory, as the kernel's are. */
    void link(String from, String to) throws IOException {
        Path link = root.resolve(from);
        Files.createDirectories(link.getParent());
        Path target = link.getParent().relativize(root.resolve(to));
        if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(link, target);
    }

    /** A magic link, as /proc's ns/ entries are: its target is a name, not a path. */
    void magicLink(String from, String name) throws IOException {
        Path link = root.resolve(from);
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, Path.of(name));
    }
}
