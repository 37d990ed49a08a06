package io.vfiobroker.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code vfio-broker} command. Exit codes: 0 ok, 1 failure, 2 usage. The scope passes --help and
 * --version down to every subcommand.
 */
@Command(name = "vfio-broker", mixinStandardHelpOptions = true, version = "vfio-broker 0.1.0", scope = CommandLine.ScopeType.INHERIT,
        description = "Hands VFIO devices to unprivileged programs, by policy.",
        subcommands = {DevicesCommand.class, GroupsCommand.class, IommuCommand.class, BindCommand.class, ReleaseCommand.class,
                StatusCommand.class, GenerateHostCommand.class,
                DaemonCommand.class, PolicyCommand.class, ClientCommand.class, DomainCheckCommand.class, RunCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        // Before the first logger exists. Not for the daemon: Spring Boot configures logging its own way, so parsing
        // this XML first was only work (and a warning that the property is ignored).
        if (!isDaemon(args) && System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "vfio-broker-cli-logback.xml");
        }
        int code = run(args);
        if (code != 0 || !DaemonCommand.started()) System.exit(code);
    }

    /** Runs a command line and returns its exit code (used by tests, which must not exit the JVM). */
    public static int run(String... args) {
        CommandLine alone = alone(args);
        CommandLine cl = alone != null ? alone : new CommandLine(new Main());
        if (alone != null) args = java.util.Arrays.copyOfRange(args, 1, args.length);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("vfio-broker: " + message(e));
            return 1;
        });
        return cl.execute(args);
    }

    private static boolean isDaemon(String[] args) {
        return args.length > 0 && args[0].equals("daemon");
    }

    /**
     * The command args[0] names, by itself (with its own subcommands), as the tree would show it; null when args[0]
     * names none. picocli builds every command's model by reflection, and its classes predate class data sharing (they
     * load and verify each time): a command line needs only its own.
     */
    static CommandLine alone(String... args) {
        if (args.length == 0) return null;
        Command main = Main.class.getAnnotation(Command.class);
        for (Class<?> c : main.subcommands()) {
            if (!c.getAnnotation(Command.class).name().equals(args[0])) continue;
            CommandLine cl = new CommandLine(c);
            cl.setCommandName(main.name() + " " + args[0]);
            inherit(cl, main);
            return cl;
        }
        return null;
    }

    /** What the tree's INHERIT scope gives every command below it: --help, --version and the version. */
    private static void inherit(CommandLine cl, Command main) {
        CommandLine.Model.CommandSpec spec = cl.getCommandSpec();
        if (!spec.mixinStandardHelpOptions()) spec.mixinStandardHelpOptions(main.mixinStandardHelpOptions());
        spec.version(main.version());
        for (CommandLine sub : cl.getSubcommands().values()) inherit(sub, main);
    }

    private static String message(Throwable e) {
        Throwable t = e;
        while ((t.getMessage() == null || t instanceof java.io.UncheckedIOException) && t.getCause() != null) t = t.getCause();
        // Its message is only the path: say what happened (typically a user other than root touching root's state).
        if (t instanceof java.nio.file.AccessDeniedException a) return "permission denied: " + a.getFile() + (a.getReason() == null ? "" : " (" + a.getReason() + ")");
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }
}
