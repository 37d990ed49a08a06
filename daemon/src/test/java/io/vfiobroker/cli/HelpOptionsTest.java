package io.vfiobroker.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Every command of the tree, nested ones included, answers --help (and -h) with its usage and exit 0. */
class HelpOptionsTest {

    static void collect(CommandLine cl, List<String> prefix, List<List<String>> out) {
        for (var e : cl.getSubcommands().entrySet()) {
            if (!e.getKey().equals(e.getValue().getCommandName())) continue; // an alias
            List<String> path = new ArrayList<>(prefix);
            path.add(e.getKey());
            out.add(path);
            collect(e.getValue(), path, out);
        }
    }

    @Test
    void everyCommandAnswersHelpWithExitZero() {
        List<List<String>> commands = new ArrayList<>();
        commands.add(List.of());
        collect(new CommandLine(new Main()), List.of(), commands);
        assertThat(commands).as("the walk found the tree").contains(List.of("client"), List.of("daemon"), List.of("policy", "explain"));
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        try {
            for (List<String> cmd : commands) {
                for (String flag : List.of("--help", "-h")) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    ByteArrayOutputStream err = new ByteArrayOutputStream();
                    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
                    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                    List<String> args = new ArrayList<>(cmd);
                    args.add(flag);
                    int code = Main.run(args.toArray(String[]::new));
                    String said = out.toString(StandardCharsets.UTF_8);
                    String usage = ("Usage: vfio-broker " + String.join(" ", cmd)).trim();
                    assertThat(code).as("%s: %s%s", args, said, err).isZero();
                    assertThat(said).as("%s", args).startsWith(usage).contains("-h, --help");
                    assertThat(err.toString(StandardCharsets.UTF_8)).as("%s", args).isEmpty();
                }
            }
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
    }

    @Test
    void aCommandBuiltByItselfShowsWhatTheTreeShows() {
        CommandLine tree = new CommandLine(new Main());
        List<List<String>> commands = new ArrayList<>();
        collect(tree, List.of(), commands);
        for (List<String> cmd : commands) {
            CommandLine inTree = tree;
            for (String name : cmd) inTree = inTree.getSubcommands().get(name);
            CommandLine alone = Main.alone(cmd.get(0));
            assertThat(alone).as("%s built by itself", cmd.get(0)).isNotNull();
            for (String name : cmd.subList(1, cmd.size())) alone = alone.getSubcommands().get(name);
            assertThat(alone.getUsageMessage()).as("%s", cmd).isEqualTo(inTree.getUsageMessage());
            assertThat(alone.getCommandSpec().version()).as("%s", cmd).containsExactly(inTree.getCommandSpec().version());
        }
        assertThat(Main.alone("--help")).isNull();
        assertThat(Main.alone("no-such-command")).isNull();
    }
}
