package io.vfiobroker.dra;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;

/**
 * Reads ResourceClaims (and the consuming pod's service account) from the API server, authenticated by the pod's
 * service-account token, re-read on every call since the kubelet rotates it.
 */
public final class ApiServerClaims implements ClaimSource {

    static final Path SA_DIR = Path.of("/var/run/secrets/kubernetes.io/serviceaccount");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final URI server;
    private final Path tokenFile;
    private final String driver;
    private final HttpClient http;
    private final Duration timeout;

    /** @param timeout for connecting, and again for each request */
    public ApiServerClaims(URI server, Path tokenFile, SSLContext tls, String driver, Duration timeout) {
        this.server = server;
        this.tokenFile = tokenFile;
        this.driver = driver;
        this.timeout = timeout;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout);
        if (tls != null) b.sslContext(tls);
        this.http = b.build();
    }

    /** In a pod: KUBERNETES_SERVICE_HOST/PORT and the mounted service-account token and CA. */
    public static ApiServerClaims inCluster(String driver, Duration timeout) {
        String host = System.getenv("KUBERNETES_SERVICE_HOST");
        String port = System.getenv().getOrDefault("KUBERNETES_SERVICE_PORT", "443");
        if (host == null) throw new IllegalStateException("vfio-broker.dra: not in a pod (KUBERNETES_SERVICE_HOST unset): cannot read claims");
        if (host.contains(":")) host = "[" + host + "]";
        try (InputStream in = Files.newInputStream(SA_DIR.resolve("ca.crt"))) {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) ks.setCertificateEntry("ca" + i++, c);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, tmf.getTrustManagers(), null);
            return new ApiServerClaims(URI.create("https://" + host + ":" + port), SA_DIR.resolve("token"), tls, driver, timeout);
        } catch (Exception e) {
            throw new IllegalStateException("vfio-broker.dra: cannot load the service account's CA: " + e.getMessage(), e);
        }
    }

    @Override
    public AllocatedClaim allocation(ClaimRef ref) {
        JsonNode claim = get("/apis/resource.k8s.io/v1/namespaces/" + enc(ref.namespace()) + "/resourceclaims/" + enc(ref.name()),
                "claim " + ref.describe());
        String sa = null;
        for (JsonNode r : claim.path("status").path("reservedFor")) {
            if (!"pods".equals(r.path("resource").asString(""))) continue;
            try {
                JsonNode pod = get("/api/v1/namespaces/" + enc(ref.namespace()) + "/pods/" + enc(r.path("name").asString("")), "pod");
                sa = pod.path("spec").path("serviceAccountName").asString(null);
            } catch (DraException e) {
                sa = null; // the principal falls back to the claim
            }
            break;
        }
        return ResourceClaims.parse(ref, claim, driver, sa);
    }

    private JsonNode get(String path, String what) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(server.resolve(path)).timeout(timeout).header("Accept", "application/json");
            if (tokenFile != null && Files.exists(tokenFile)) b.header("Authorization", "Bearer " + Files.readString(tokenFile).strip());
            HttpResponse<String> r = http.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new DraException("cannot read " + what + " from the API server: HTTP " + r.statusCode());
            return JSON.readTree(r.body());
        } catch (DraException e) {
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DraException("interrupted reading " + what);
        } catch (Exception e) {
            throw new DraException("cannot read " + what + " from the API server: " + e.getMessage(), e);
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
