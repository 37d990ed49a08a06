package io.vfiobroker.web.console;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import com.microsoft.playwright.assertions.PlaywrightAssertions;
import com.sun.net.httpserver.HttpServer;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A page from another origin (a second local HTTP server on another port) in the admin's Chromium: it can read
 * nothing of the daemon's (no CORS) and change nothing (form posts, no-cors fetches, DELETE), which the daemon's
 * state afterwards shows. The admin's own console, same origin, still works.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrossOriginBrowserTest {

    DaemonUnderTest daemon;
    HttpServer evil;
    Playwright playwright;
    Browser browser;
    final List<String> daemonAnswers = new CopyOnWriteArrayList<>();

    @BeforeAll
    void start() throws Exception {
        daemon = new DaemonUnderTest();
        evil = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4);
        evil.createContext("/", x -> {
            byte[] b = attackPage().getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().add("Content-Type", "text/html; charset=utf-8");
            x.sendResponseHeaders(200, b.length);
            x.getResponseBody().write(b);
            x.close();
        });
        evil.start();
        playwright = Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions()
                .setExecutablePath(ConsoleBrowserTest.CHROMIUM).setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-quic")));
    }

    @AfterAll
    void stop() {
        if (browser != null) browser.close();
        if (playwright != null) playwright.close();
        if (evil != null) evil.stop(0);
        if (daemon != null) daemon.close();
    }

    String leaseId = "none";

    String attackPage() {
        String d = daemon.base;
        return """
                <!doctype html><html><body>
                <form id="reload" method="POST" action="D/api/v1/policy/reload" target="sink"></form>
                <form id="bind" method="POST" action="D/api/v1/bindings" enctype="text/plain" target="sink">
                  <input name='{"address":"0000:07:02.5","dryRun":false,"x":"' value='"}'></form>
                <iframe name="sink"></iframe>
                <script>
                const D = 'D';
                async function tryIt(name, f) {
                  try { window.results[name] = 'ok ' + await f(); } catch (e) { window.results[name] = 'blocked ' + e.name; }
                }
                window.results = {};
                window.attack = async () => {
                  await tryIt('readLeases', async () => (await fetch(D + '/api/v1/leases')).status + ' ' + (await (await fetch(D + '/api/v1/leases')).text()));
                  await tryIt('readPolicy', async () => (await (await fetch(D + '/api/v1/policy')).text()));
                  await tryIt('readWhoami', async () => (await (await fetch(D + '/api/v1/whoami', {credentials: 'include'})).text()));
                  await tryIt('noCorsReload', async () => (await fetch(D + '/api/v1/policy/reload', {method: 'POST', mode: 'no-cors'})).type);
                  await tryIt('noCorsBind', async () => (await fetch(D + '/api/v1/bindings', {method: 'POST', mode: 'no-cors',
                      headers: {'Content-Type': 'text/plain'}, body: '{"address":"0000:07:02.5","dryRun":false}'})).type);
                  await tryIt('noCorsRevoke', async () => (await fetch(D + '/api/v1/leases/LEASE', {method: 'DELETE', mode: 'no-cors'})).type);
                  await tryIt('corsRevoke', async () => (await fetch(D + '/api/v1/leases/LEASE', {method: 'DELETE',
                      headers: {'Content-Type': 'application/json'}})).status);
                  await tryIt('events', () => new Promise((ok, no) => { const s = new EventSource(D + '/api/v1/events');
                      s.onopen = () => { s.close(); ok('open'); }; s.onerror = () => { s.close(); no(new Error('EventSource')); }; }));
                  return window.results;
                };
                </script></body></html>
                """.replace("D/api", d + "/api").replace("'D'", "'" + d + "'").replace("LEASE", leaseId);
    }

    @Test
    void aPageFromAnotherOriginCanNeitherReadNorChangeAnything() throws Exception {
        Lease lease = daemon.lease("0000:07:02.3");
        leaseId = lease.id();
        PolicyService policy = daemon.bean(PolicyService.class);
        BindingService binding = daemon.bean(BindingService.class);
        // A reload would take this file in: the policy text in force must stay the old one.
        String before = policy.current().text();
        Files.writeString(daemon.policyFile, "version: 1\nrules: []\n");
        var bindingsBefore = Map.copyOf(binding.status());
        try (BrowserContext ctx = browser.newContext()) {
            Page page = ctx.newPage();
            page.onResponse(r -> {
                if (r.url().startsWith(daemon.base)) daemonAnswers.add(r.request().method() + " " + r.url() + " " + r.status());
            });
            String origin = "http://127.0.0.1:" + evil.getAddress().getPort();
            page.navigate(origin + "/");
            @SuppressWarnings("unchecked")
            Map<String, String> results = (Map<String, String>) page.evaluate("() => window.attack()");
            // Reads: the browser withholds every answer (no Access-Control-Allow-Origin), so the page sees a network error.
            assertThat(results.get("readLeases")).startsWith("blocked");
            assertThat(results.get("readPolicy")).startsWith("blocked");
            assertThat(results.get("readWhoami")).startsWith("blocked");
            assertThat(results.get("events")).startsWith("blocked");
            // no-cors POSTs are sent (opaque answer), a DELETE cannot be sent without a preflight, which fails.
            assertThat(results.get("noCorsReload")).isEqualTo("ok opaque");
            assertThat(results.get("noCorsBind")).isEqualTo("ok opaque");
            assertThat(results.get("noCorsRevoke")).startsWith("blocked");
            assertThat(results.get("corsRevoke")).startsWith("blocked");
            // Classic form posts, one without a body (reload) and one smuggling JSON as text/plain (bind).
            page.evaluate("() => document.getElementById('reload').submit()");
            page.waitForTimeout(700);
            page.evaluate("() => document.getElementById('bind').submit()");
            page.waitForTimeout(700);
        }
        assertThat(policy.current().text()).isEqualTo(before);
        assertThat(binding.status()).isEqualTo(bindingsBefore);
        assertThat(daemon.bean(LeaseService.class).get(lease.id()).orElseThrow().active()).isTrue();
        // What reached the daemon was refused; nothing it answered carried a CORS header.
        assertThat(daemonAnswers).isNotEmpty();
        assertThat(daemonAnswers.stream().filter(a -> a.startsWith("POST")).toList()).isNotEmpty().allMatch(a -> a.endsWith(" 403"));

        // The admin's own console, same origin, is identified and may act.
        Files.writeString(daemon.policyFile, before);
        try (BrowserContext ctx = browser.newContext()) {
            Page page = ctx.newPage();
            page.navigate(daemon.base + "/console/#/policy");
            page.locator(".whoami[data-admin='true']").waitFor();
            assertThat(page.locator(".whoami").textContent()).contains("uid " + DaemonUnderTest.UID).contains("admin");
            // The button comes with the policy text, fetched after the whoami answer: a retrying assertion waits for it.
            PlaywrightAssertions.assertThat(page.getByText("Reload policy…")).hasCount(1);
        }
    }
}
