package io.vfiobroker;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pins the layering of docs/architecture.md. Each rule names its known exceptions and why; anything new fails.
 * An exception that no longer occurs fails too (where the check can tell), so the lists only shrink.
 */
class ArchitectureTest {

    static final Path CLASSES = Path.of("target/classes");
    static final Path SOURCES = Path.of("src/main/java");
    static final JavaClasses DAEMON = new ClassFileImporter().importPath(CLASSES);

    /** The core: decides and orders the work, knows no protocol, framework or native binding. */
    static final String[] CORE = {"io.vfiobroker.domain..", "io.vfiobroker.policy..", "io.vfiobroker.binding..",
            "io.vfiobroker.inventory..", "io.vfiobroker.accounting..", "io.vfiobroker.quota..", "io.vfiobroker.audit..",
            "io.vfiobroker.events..", "io.vfiobroker.protect..", "io.vfiobroker.interrupts..", "io.vfiobroker.hostgen..",
            "io.vfiobroker.json..", "io.vfiobroker.cdi..", "io.vfiobroker.authz..", "io.vfiobroker.lease..",
            "io.vfiobroker.iommu..", "io.vfiobroker.host..", "io.vfiobroker.core.."};

    static final String[] ADAPTERS = {"grpc", "web", "kubelet", "dra", "cli", "broker"};

    @Test
    void theCoreKnowsNoFrameworkProtocolOrNativeBinding() {
        noClasses().that().resideInAnyPackage(CORE)
                .and(not("io.vfiobroker.quota.QuotaProperties",
                        "Spring binds vfio-broker.quota.* to this record by its annotation; a record has no other way in"))
                .should().dependOnClassesThat().resideInAnyPackage("org.springframework..", "io.grpc..", "io.netty..", "com.sun.jna..")
                .check(DAEMON);
    }

    @Test
    void adaptersDoNotUseEachOther() {
        for (String a : ADAPTERS) {
            for (String b : ADAPTERS) {
                if (a.equals(b)) continue;
                DescribedPredicate<JavaClass> other = resideInAPackage("io.vfiobroker." + b + "..");
                noClasses().that().resideInAPackage("io.vfiobroker." + a + "..").should().dependOnClassesThat(other)
                        .check(DAEMON);
            }
            // What the device plugin and the DRA driver share sits below both of them.
            noClasses().that().resideInAPackage("io.vfiobroker.nodeplugin..").should().dependOnClassesThat()
                    .resideInAPackage("io.vfiobroker." + a + "..").check(DAEMON);
        }
    }

    /** Every adapter package, nodeplugin/ included: what the device plugin and the DRA driver share translates too. */
    static final String[] ADAPTER_PACKAGES = Stream.concat(Stream.of(ADAPTERS), Stream.of("nodeplugin"))
            .map(a -> "io.vfiobroker." + a + "..").toArray(String[]::new);

    /**
     * The services behind the core facade (core/DeviceProvisioning). Journal's records (Journal.Owned) are results, not
     * calls. lease/LeaseService stays: it is the core of leases, and it decides a lease's devices itself.
     */
    static final Set<String> SERVICES = Set.of("io.vfiobroker.binding.BindingService", "io.vfiobroker.binding.BindingRequests",
            "io.vfiobroker.binding.Journal", "io.vfiobroker.inventory.InventoryScanner", "io.vfiobroker.inventory.InventoryCache");

    static final DescribedPredicate<JavaClass> SERVICE = DescribedPredicate.describe("a service behind the core facade",
            c -> SERVICES.contains(c.getName()));

    /** The CLI's reports without a daemon included: they read a host tree through core/HostFacts. */
    @Test
    void adaptersCallTheCoreNotItsServices() {
        noClasses().that().resideInAnyPackage(ADAPTER_PACKAGES).should().dependOnClassesThat(SERVICE).check(DAEMON);
    }

    /**
     * What an adapter may ask PolicyService: the policy document's administration (its source, load status and text,
     * a reload, an explanation for a principal). These hand nothing out and change no device, so they stay on the service;
     * the facade would only forward them. Whether a consumer gets a device (decide) is the core's: core/DeviceAccess
     * behind DeviceProvisioning, or lease/LeaseService.
     */
    static final Set<String> POLICY_ADMIN = Set.of("source", "status", "current", "reload", "explain");

    @Test
    void adaptersLeaveDecisionsToTheCore() {
        noClasses().that().resideInAnyPackage(ADAPTER_PACKAGES)
                .should().accessTargetWhere(DescribedPredicate.describe("PolicyService beyond " + new TreeSet<>(POLICY_ADMIN),
                        a -> a.getTargetOwner().getName().equals("io.vfiobroker.policy.PolicyService")
                                && !POLICY_ADMIN.contains(a.getTarget().getName())))
                .check(DAEMON);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("io.vfiobroker.(*)..").should().beFreeOfCycles().check(DAEMON);
    }

    /** Classes besides the host port's Linux side that name a host path, and why. */
    static final Map<String, String> HOST_PATH_EXCEPTIONS = new TreeMap<>(Map.ofEntries(
            Map.entry("io.vfiobroker.cli.BindingOptions", "defaults of --policy and --host-proc, read nothing"),
            Map.entry("io.vfiobroker.config.BrokerProperties", "default of vfio-broker.host-proc, reads nothing"),
            Map.entry("io.vfiobroker.iommu.DeviceNodes", "names the /dev nodes the domain opener opens and a container gets; finds them through the port"),
            Map.entry("io.vfiobroker.hostgen.DemoHosts", "makes the demo's own directory below /dev/shm, a tmpfs, and reads nothing of the host"),
            Map.entry("io.vfiobroker.hostgen.StorageAndNetwork", "writes a generated host's mount table, whose sources are /dev/ paths"),
            Map.entry("io.vfiobroker.protect.ProtectionScanner", "recognises /dev/ sources in the host's mount table text")));

    /** A string constant that is a path below one of these, and nothing else (messages may name them). */
    static final Pattern HOST_PATH = Pattern.compile("/(sys|proc|dev|etc)(/[^\\s]*)?");

    @Test
    void onlyTheHostPortsLinuxSideNamesHostPaths() throws IOException {
        Map<String, Set<String>> found = new TreeMap<>();
        try (Stream<Path> files = Files.walk(CLASSES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = CLASSES.relativize(f).toString().replace(".class", "").replace('/', '.');
                String top = name.contains("$") ? name.substring(0, name.indexOf('$')) : name;
                if (top.startsWith("io.vfiobroker.host.")) continue;
                for (String s : stringConstants(f)) {
                    if (HOST_PATH.matcher(s).matches()) found.computeIfAbsent(top, k -> new TreeSet<>()).add(s);
                }
            }
        }
        List<String> problems = new ArrayList<>();
        found.forEach((c, paths) -> {
            if (!HOST_PATH_EXCEPTIONS.containsKey(c)) problems.add(c + " names " + paths + ": go through host/SysfsHost");
        });
        HOST_PATH_EXCEPTIONS.keySet().forEach(c -> {
            if (!found.containsKey(c)) problems.add(c + " names no host path any more: remove it from HOST_PATH_EXCEPTIONS");
        });
        assertThat(problems).isEmpty();
    }

    static final int MAX_LINES = 350;

    @Test
    void noMainSourceFileIsLongerThan350Lines() throws IOException {
        List<String> problems = new ArrayList<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String name = SOURCES.relativize(f).toString();
                long lines = Files.readAllLines(f).size();
                if (lines > MAX_LINES) problems.add(name + " has " + lines + " lines: split it by job");
            }
        }
        assertThat(problems).isEmpty();
    }

    private static DescribedPredicate<JavaClass> not(String className, String why) {
        return DescribedPredicate.describe("are not " + className + " (" + why + ")", c -> !c.getName().equals(className));
    }

    /** The CONSTANT_String entries of a class file: its string literals, concatenation recipes included. */
    static List<String> stringConstants(Path classFile) throws IOException {
        try (InputStream raw = Files.newInputStream(classFile); DataInputStream in = new DataInputStream(raw)) {
            in.readInt();
            in.readUnsignedShort();
            in.readUnsignedShort();
            int count = in.readUnsignedShort();
            String[] utf8 = new String[count];
            List<Integer> strings = new ArrayList<>();
            for (int i = 1; i < count; i++) {
                int tag = in.readUnsignedByte();
                switch (tag) {
                    case 1 -> utf8[i] = in.readUTF();
                    case 8 -> strings.add(in.readUnsignedShort());
                    case 7, 16, 19, 20 -> in.skipBytes(2);
                    case 15 -> in.skipBytes(3);
                    case 3, 4, 9, 10, 11, 12, 17, 18 -> in.skipBytes(4);
                    case 5, 6 -> {
                        in.skipBytes(8);
                        i++;
                    }
                    default -> throw new IOException(classFile + ": constant pool tag " + tag + " at " + i);
                }
            }
            return strings.stream().map(i -> utf8[i]).toList();
        }
    }
}
