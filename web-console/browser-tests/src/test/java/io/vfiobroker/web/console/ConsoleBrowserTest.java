package io.vfiobroker.web.console;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import com.microsoft.playwright.options.AriaRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.DmaBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;

/** Debian's chromium, driven by Playwright, against the daemon serving the bundled console. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleBrowserTest {

    static final Path CHROMIUM = Path.of(System.getProperty("console.chromium", "/usr/bin/chromium"));
    static final Path SHOTS = Path.of(System.getProperty("console.screenshots", "target/screenshots"));

    DaemonUnderTest daemon;
    Playwright playwright;
    Browser browser;
    BrowserContext context;
    Page page;

    @BeforeAll
    void start() throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            throw new IllegalStateException(CHROMIUM + " not found: install Debian's chromium (apt-get install chromium)");
        }
        daemon = new DaemonUnderTest();
        playwright = Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        // Background-networking flags: this machine's closed network refuses Chromium's own connections.
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions()
                .setExecutablePath(CHROMIUM)
                .setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")));
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    void stop() {
        if (browser != null) browser.close();
        if (playwright != null) playwright.close();
        if (daemon != null) daemon.close();
    }

    @BeforeEach
    void newPage() {
        context = browser.newContext(new Browser.NewContextOptions().setViewportSize(1360, 900));
        context.setDefaultTimeout(10_000);
        page = context.newPage();
    }

    @AfterEach
    void closePage() {
        context.close();
    }

    void open(String hashRoute) {
        // poll=500: the fallback refetch runs often enough for a test when the daemon has no event stream.
        page.navigate(daemon.base + "/console/?poll=500#/" + hashRoute);
    }

    void shot(String name) {
        page.screenshot(new Page.ScreenshotOptions().setPath(SHOTS.resolve(name + ".png")).setFullPage(false));
    }

    @Test
    void rootRedirectsToTheConsoleWhoseOverviewShowsIommuAndKernelSupport() {
        page.navigate(daemon.base + "/");
        assertThat(page).hasURL(Pattern.compile(".*/console/.*"));
        assertThat(page.getByRole(AriaRole.HEADING, new Page.GetByRoleOptions().setName("Host overview"))).isVisible();
        Locator unit = page.locator("tr[data-unit=dmar0]");
        assertThat(unit).containsText("intel-vt-d");
        assertThat(unit).containsText("IR supported");
        assertThat(unit).containsText("ecap");
        assertThat(page.locator("li[data-flag=vfioPci]")).containsText("yes");
        assertThat(page.locator("li[data-flag=iommufd]")).containsText("no");
        assertThat(page.locator(".live")).hasAttribute("data-live", "sse");
        shot("overview");
    }

    @Test
    void devicesShowTheSriovTreeAndTheFilterNarrowsThem() {
        open("devices");
        Locator rows = page.locator("table.devices tbody tr");
        assertThat(rows.first()).isVisible();
        int all = rows.count();
        assertThat(all).isGreaterThan(15);
        // Bridges are hidden until asked for.
        assertThat(page.locator("tr[data-address='0000:00:01.0']")).hasCount(0);
        page.getByLabel("show bridges").check();
        assertThat(page.locator("tr[data-address='0000:00:01.0']")).containsText("PCI bridge");
        page.getByLabel("show bridges").uncheck();
        // VFs sit right under their PF.
        assertThat(page.locator("tr[data-address='0000:07:00.0'] + tr")).hasAttribute("data-address", "0000:07:02.0");
        assertThat(page.locator("tr[data-address='0000:07:02.0']")).hasClass(Pattern.compile("\\bvf\\b"));
        assertThat(page.locator("tr[data-address='0000:07:00.0']")).containsText("SR-IOV PF: 4/");
        page.screenshot(new Page.ScreenshotOptions().setPath(SHOTS.resolve("devices.png")).setFullPage(true));

        page.getByLabel("Filter devices").fill("nvme");
        assertThat(rows).hasCount(2);
        assertThat(rows.first()).containsText("NVMe");

        // Only VFs match: their PF stays as dimmed context.
        page.getByLabel("Filter devices").fill("driver:iavf numa:0");
        assertThat(page.locator("tr.vf").first()).isVisible();
        assertThat(page.locator("tr[data-address='0000:07:00.0']")).hasClass(Pattern.compile("\\bdim\\b"));
        assertThat(page.locator("tr.vf td.driver").first()).hasText("iavf");

        page.getByLabel("Filter devices").fill("no-such-device");
        assertThat(rows).hasCount(0);
        assertThat(page.getByText("No device matches")).isVisible();
    }

    @Test
    void aBindByAnotherClientArrivesOverTheEventStreamWithoutPolling() throws Exception {
        // A VF no other test touches, bound behind the page's back by another REST client.
        String vf = "0000:07:02.3";
        List<String> deviceFetches = new CopyOnWriteArrayList<>();
        page.onRequest(r -> {
            if (r.url().endsWith("/api/v1/devices")) deviceFetches.add(r.url());
        });
        open("devices"); // ?poll=500: were the console polling, it would refetch twice a second
        Locator driver = page.locator("tr[data-address='" + vf + "'] td.driver");
        assertThat(driver).hasAttribute("data-driver", "iavf");
        Locator live = page.locator(".live");
        assertThat(live).hasAttribute("data-live", "sse");
        page.evaluate("window.__sameDocument = true");
        page.waitForTimeout(400); // the refetch that follows the stream's open
        deviceFetches.clear();
        page.waitForTimeout(1500);
        assertThat(deviceFetches).as("device fetches while nothing changed").isEmpty();

        assertThat(daemon.status("POST", "/api/v1/bindings", "{\"address\":\"" + vf + "\",\"dryRun\":false}")).isEqualTo(200);
        try {
            assertThat(driver).hasAttribute("data-driver", "vfio-pci");
            assertThat(live).containsText(Pattern.compile("(bind|driver-bound) " + vf.replace(".", "\\.")));
            assertThat(page.locator("tr[data-address='" + vf + "']")).containsText("bound by the broker");
        } finally {
            assertThat(daemon.status("DELETE", "/api/v1/bindings/17", null)).isEqualTo(200);
        }
        assertThat(driver).hasAttribute("data-driver", "iavf");
        // Two changes, each refetched once per burst (not per event), and the same document throughout.
        assertThat(deviceFetches.size()).isBetween(2, 6);
        assertThat(Integer.parseInt(live.getAttribute("data-events"))).isGreaterThanOrEqualTo(2);
        assertThat((Boolean) page.evaluate("window.__sameDocument === true")).isTrue();
    }

    @Test
    void withoutAnEventStreamTheConsoleSaysSoAndPolls() throws Exception {
        // An older daemon: /api/v1/events answers 404 (this route stands in for it; the rest is the real daemon).
        page.route("**/api/v1/events", r -> r.fulfill(new com.microsoft.playwright.Route.FulfillOptions()
                .setStatus(404).setContentType("application/json").setBody("{\"status\":404,\"error\":\"Not Found\"}")));
        String vf = "0000:08:02.3";
        open("devices");
        Locator live = page.locator(".live");
        assertThat(live).hasAttribute("data-live", "polling");
        assertThat(live).containsText("refetching every 0.5s — no event stream (GET /api/v1/events answered 404)");
        Locator row = page.locator("tr[data-address='" + vf + "']");
        assertThat(row).isVisible();
        page.evaluate("window.__sameDocument = true");
        try {
            daemon.writeDriverOverride(vf, "vfio-pci"); // straight into sysfs: seen by the next poll
            assertThat(row).containsText("override vfio-pci");
        } finally {
            daemon.writeDriverOverride(vf, "(null)");
        }
        assertThat(row).not().containsText("override");
        assertThat((Boolean) page.evaluate("window.__sameDocument === true")).isTrue();
    }

    @Test
    void aLeaseIsListedPlottedAuditedAndCanBeRevokedWithConfirmation() throws Exception {
        String vf = "0000:07:02.1";
        open("leases");
        assertThat(page.locator(".live")).hasAttribute("data-live", "sse");
        assertThat(page.getByText("No device is leased right now.")).isVisible();
        // A real lease for this JVM (uid and pid), through the daemon's LeaseService; it arrives over SSE.
        Lease lease = daemon.lease(vf);
        String id = lease.id();
        Locator row = page.locator("tr[data-lease='" + id + "']");
        List<DmaBuffer> locked = new ArrayList<>();
        try {
            assertThat(row).containsText(vf);
            assertThat(row).containsText("uid " + DaemonUnderTest.UID);
            assertThat(row).containsText("pid " + ProcessHandle.current().pid());
            assertThat(row).containsText("console-test-vfs");
            assertThat(row).containsText("legacy");
            assertThat(row).hasAttribute("data-state", "ACTIVE");
            // The demo host's dmar0 remaps interrupts, so the lease is not marked unsafe.
            assertThat(lease.unsafeInterrupts()).isFalse();
            assertThat(row.locator("td.irq")).hasText("remapped");

            // The holder locks memory: VmLck, which the daemon samples, is what the memlock page plots.
            open("memlock");
            Locator series = page.locator("polyline[data-series='lease " + id.substring(0, 8) + "']");
            Locator used = page.locator("table.memlock-leases tr[data-lease='" + id + "'] td.used");
            assertThat(used).hasText("0 B");
            locked.add(lockMiB(3));
            assertThat(used).hasText("3.0 MiB", new com.microsoft.playwright.assertions.LocatorAssertions.HasTextOptions().setTimeout(8000));
            locked.add(lockMiB(4.5));
            assertThat(used).hasText("7.5 MiB", new com.microsoft.playwright.assertions.LocatorAssertions.HasTextOptions().setTimeout(8000));
            // 7.5 of the JVM's 8 MiB RLIMIT_MEMLOCK is past the 0.9 near-limit ratio.
            assertThat(page.locator("table.memlock-leases tr[data-lease='" + id + "']")).containsText("near limit");
            assertThat(page.locator("table.memlock-principals tr[data-uid='" + DaemonUnderTest.UID + "']")).containsText("7.5 MiB");
            assertThat(page.locator("polyline[data-series='uid " + DaemonUnderTest.UID + "']")).hasCount(1);
            String points = series.getAttribute("points");
            assertThat(points.split(" ").length).as("samples in the plot").isGreaterThanOrEqualTo(3);
            assertThat(points.split(" ")[0].split(",")[1]).isNotEqualTo(points.split(" ")[points.split(" ").length - 1].split(",")[1]);
            page.waitForTimeout(2500); // one more flat sample at 7.5 MiB, for the picture
            shot("memlock");

            open("audit");
            Locator audit = page.locator("table.audit");
            assertThat(audit.locator("tr[data-event='lease-granted']").filter(new Locator.FilterOptions().setHasText(id))).hasCount(1);
            assertThat(audit.locator("tr[data-event='fds-handed-over']").filter(new Locator.FilterOptions().setHasText(id))).hasCount(1);
            assertThat(audit.locator("tr[data-event='memlock-near-limit']").filter(new Locator.FilterOptions().setHasText(id))).hasCount(1);
            shot("audit");

            open("leases");
            assertThat(row).hasAttribute("data-state", "ACTIVE");
            shot("leases");
            row.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Revoke lease " + id)).click();
            Locator dialog = page.getByRole(AriaRole.DIALOG);
            assertThat(dialog).containsText("What will happen");
            assertThat(dialog).containsText("uid " + DaemonUnderTest.UID + " (pid " + ProcessHandle.current().pid() + ") loses access to 1 device(s)");
            assertThat(dialog).containsText(vf);
            shot("revoke-dialog");
            // Nothing happens before the confirmation.
            assertThat(daemon.bean(LeaseService.class).get(id).orElseThrow().state()).isEqualTo(Lease.State.ACTIVE);
            dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Revoke").setExact(true)).click();
            // A revoke answers at once with the lease ENDING: the holder is told and gets its grace.
            assertThat(dialog.locator(".result")).containsText("ending (revoked by admin)");
            dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Close")).click();
            assertThat(row).hasAttribute("data-state", "ENDED",
                    new com.microsoft.playwright.assertions.LocatorAssertions.HasAttributeOptions().setTimeout(30_000));
            assertThat(row).containsText("revoked by admin");
            assertThat(page.getByText("No device is leased right now.")).isVisible();
            assertThat(daemon.bean(LeaseService.class).active()).noneMatch(l -> l.id().equals(id));

            open("audit");
            assertThat(page.locator("table.audit tr[data-event='lease-ended']").filter(new Locator.FilterOptions().setHasText(id)))
                    .containsText("revoked by admin");
        } finally {
            locked.forEach(DmaBuffer::close);
            daemon.bean(LeaseService.class).end(id, "test cleanup");
        }
    }

    /** mlock(2)ed memory in this JVM (the lease holder), counted in its VmLck. */
    static DmaBuffer lockMiB(double mib) {
        DmaBuffer b = DmaBuffer.allocate((long) (mib * 1024 * 1024));
        b.lock();
        return b;
    }

    @Test
    void anErrorFromTheDaemonIsShownAsItsSentence() {
        open("device/0000:zz:00.0");
        Locator alert = page.getByRole(AriaRole.ALERT);
        assertThat(alert).containsText("invalid PCI address '0000:zz:00.0'");
        assertThat(alert).containsText("HTTP 400 from GET /api/v1/devices/0000%3Azz%3A00.0");
        shot("error");
    }

    @Test
    void aDevicesDetailPageShowsItsFields() {
        open("devices");
        page.locator("tr[data-address='0000:06:00.0'] a").click();
        assertThat(page).hasURL(Pattern.compile(".*#/device/0000:06:00.0"));
        assertThat(page.locator("table.detail")).containsText("11e8");
    }

    @Test
    void everyPageRendersItsData() {
        record P(String route, String heading) {}
        for (P p : List.of(new P("leases", "Leases"), new P("memlock", "Locked memory"), new P("policy", "Policy"),
                new P("audit", "Audit log"))) {
            open(p.route());
            assertThat(page.getByRole(AriaRole.HEADING, new Page.GetByRoleOptions().setName(p.heading()).setExact(true))).isVisible();
            assertThat(page.locator("section").first()).isVisible();
            assertThat(page.locator(".unavailable")).hasCount(0);
            assertThat(page.getByRole(AriaRole.ALERT)).hasCount(0);
        }
        shot("policy");
    }

    @Test
    void bindingAGroupShowsTheDryRunThenChangesTheDriverAndReleaseRestoresIt() throws Exception {
        open("devices");
        Locator edu = page.locator("tr[data-address='0000:06:00.0']");
        Locator driver = edu.locator("td.driver");
        assertThat(driver).hasAttribute("data-driver", "");
        edu.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Bind 0000:06:00.0")).click();
        Locator dialog = page.getByRole(AriaRole.DIALOG);
        assertThat(dialog).containsText("What will happen");
        assertThat(dialog).containsText("sys/bus/pci/devices/0000:06:00.0/driver_override");
        assertThat(dialog).containsText("drivers_probe");
        shot("bind-dialog");
        // Nothing is written before the confirmation.
        assertThat(driver).hasAttribute("data-driver", "");
        dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Bind").setExact(true)).click();
        assertThat(dialog.locator(".result")).containsText("Done");
        dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Close")).click();
        assertThat(driver).hasAttribute("data-driver", "vfio-pci");
        assertThat(edu).containsText("bound by the broker");

        edu.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Release group of 0000:06:00.0")).click();
        assertThat(dialog).containsText("release");
        dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Release").setExact(true)).click();
        assertThat(dialog.locator(".result")).containsText("Done");
        dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Close")).click();
        assertThat(driver).hasAttribute("data-driver", "");
    }

    @Test
    void aRefusedBindShowsWhyAndCannotBeConfirmed() throws Exception {
        // The boot NVMe holds "/": protected, so the dry run lists a refusal.
        open("devices");
        page.locator("tr[data-address='0000:01:00.0']").getByRole(AriaRole.BUTTON,
                new Locator.GetByRoleOptions().setName("Bind 0000:01:00.0")).click();
        Locator dialog = page.getByRole(AriaRole.DIALOG);
        assertThat(dialog.getByRole(AriaRole.ALERT)).containsText("Refused");
        assertThat(dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Bind").setExact(true))).hasCount(0);
        shot("bind-refused");
        dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Cancel")).click();
        assertThat(page.locator("tr[data-address='0000:01:00.0'] td.driver")).hasAttribute("data-driver", "nvme");
    }

    @Test
    void policyExplainAnswersAndABadAddressIsExplainedReadably() throws Exception {
        open("policy");
        Locator form = page.locator("form.explain");
        form.getByLabel("PCI address").fill("0000:06:00.0");
        form.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Explain")).click();
        assertThat(page.locator(".answer")).containsText("allowed");
        assertThat(page.locator(".answer")).containsText("lab-edu");
        shot("policy-explain");
        form.getByLabel("PCI address").fill("06:00");
        form.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Explain")).click();
        assertThat(page.getByRole(AriaRole.ALERT)).containsText("invalid PCI address '06:00'");
        assertThat(page.getByRole(AriaRole.ALERT)).containsText("HTTP 400 from POST /api/v1/policy/explain");
    }

    @Test
    void reloadingABrokenPolicyShowsItsErrorsAndKeepsTheOldOne() throws Exception {
        open("policy");
        assertThat(page.locator("section").first()).containsText("loaded");
        try {
            Files.writeString(daemon.policyFile, "version: 1\nrules:\n  - name: typo\n    acton: allow\n");
            page.getByRole(AriaRole.BUTTON, new Page.GetByRoleOptions().setName("Reload policy…")).click();
            Locator dialog = page.getByRole(AriaRole.DIALOG);
            assertThat(dialog).containsText("What will happen");
            dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Reload").setExact(true)).click();
            assertThat(dialog.getByRole(AriaRole.ALERT)).containsText("HTTP 422 from POST /api/v1/policy/reload");
            dialog.getByRole(AriaRole.BUTTON, new Locator.GetByRoleOptions().setName("Close")).click();
            Locator errors = page.locator("section").first().getByRole(AriaRole.ALERT);
            assertThat(errors).containsText("Validation errors");
            assertThat(errors).containsText("acton");
            shot("policy-rejected");
        } finally {
            Files.writeString(daemon.policyFile, DaemonUnderTest.GOOD_POLICY);
            daemon.status("POST", "/api/v1/policy/reload", "{}");
        }
    }
}
