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
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

    boolean has(String method, String path, String body) throws Exception {
        int s = daemon.status(method, path, body);
        return s != 404 && s != 405;
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
    void aChangeMadeElsewhereArrivesWithoutReloadingThePage() throws Exception {
        // A VF no other test touches, changed behind the page's back: by another REST client when the daemon
        // can bind (which its event stream, once there, reports), else straight in the sysfs tree.
        String vf = "0000:07:02.3";
        boolean rest = has("POST", "/api/v1/bindings", "{\"group\":17,\"dryRun\":true}");
        open("devices");
        Locator row = page.locator("tr[data-address='" + vf + "']");
        Locator driver = row.locator("td.driver");
        assertThat(driver).hasAttribute("data-driver", "iavf");
        page.evaluate("window.__sameDocument = true");
        assertThat(page.locator(".live")).hasAttribute("data-live", Pattern.compile("sse|polling"));
        if (rest) {
            assertThat(daemon.status("POST", "/api/v1/bindings", "{\"address\":\"" + vf + "\",\"dryRun\":false}")).isEqualTo(200);
            try {
                assertThat(driver).hasAttribute("data-driver", "vfio-pci");
            } finally {
                assertThat(daemon.status("DELETE", "/api/v1/bindings/17", null)).isEqualTo(200);
            }
            assertThat(driver).hasAttribute("data-driver", "iavf");
        } else {
            try {
                daemon.writeDriverOverride(vf, "vfio-pci");
                assertThat(row).containsText("override vfio-pci");
            } finally {
                daemon.writeDriverOverride(vf, "(null)");
            }
            assertThat(row).not().containsText("override");
        }
        // Still the same document: the update came in live, not by a reload.
        assertThat((Boolean) page.evaluate("window.__sameDocument === true")).isTrue();
    }

    @Test
    void serverSentEventsAreFollowedAndShownInTheHeader() {
        // The daemon's stream is not there yet: this stands in for it, only to check the console's side.
        page.route("**/api/v1/events", r -> r.fulfill(new com.microsoft.playwright.Route.FulfillOptions()
                .setStatus(200).setContentType("text/event-stream")
                .setBody("event: binding\ndata: {\"type\":\"bound\",\"group\":11}\n\n")));
        page.navigate(daemon.base + "/console/#/overview");
        Locator live = page.locator(".live");
        assertThat(live).hasAttribute("data-live", "sse");
        assertThat(live).containsText("bound 11");
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
    void everyPageRendersItsDataOrSaysTheEndpointIsNotThereYet() throws Exception {
        record P(String route, String heading, String api, String shot) {}
        for (P p : List.of(
                new P("leases", "Leases", "/api/v1/leases", "leases"),
                new P("memlock", "Locked memory", "/api/v1/accounting", "memlock"),
                new P("policy", "Policy", "/api/v1/policy", "policy"),
                new P("audit", "Audit log", "/api/v1/audit?page=0", "audit"))) {
            open(p.route());
            assertThat(page.getByRole(AriaRole.HEADING, new Page.GetByRoleOptions().setName(p.heading()).setExact(true))).isVisible();
            if (has("GET", p.api(), null)) {
                assertThat(page.locator("section").first()).isVisible();
                assertThat(page.locator(".unavailable")).hasCount(0);
            } else {
                assertThat(page.locator(".unavailable").first()).containsText("not available on this daemon yet (404");
            }
            shot(p.shot());
        }
    }

    @Test
    void bindingAGroupShowsTheDryRunThenChangesTheDriverAndReleaseRestoresIt() throws Exception {
        Assumptions.assumeTrue(has("POST", "/api/v1/bindings", "{\"group\":11,\"dryRun\":true}"),
                "POST /api/v1/bindings is not on this daemon yet");
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
        Assumptions.assumeTrue(has("POST", "/api/v1/bindings", "{\"group\":11,\"dryRun\":true}"),
                "POST /api/v1/bindings is not on this daemon yet");
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
        Assumptions.assumeTrue(has("GET", "/api/v1/policy", null), "GET /api/v1/policy is not on this daemon yet");
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
        Assumptions.assumeTrue(has("GET", "/api/v1/policy", null), "GET /api/v1/policy is not on this daemon yet");
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
