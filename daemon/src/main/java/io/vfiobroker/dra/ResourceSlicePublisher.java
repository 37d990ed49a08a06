package io.vfiobroker.dra;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.resource.v1.Device;
import io.fabric8.kubernetes.api.model.resource.v1.DeviceAttribute;
import io.fabric8.kubernetes.api.model.resource.v1.ResourcePool;
import io.fabric8.kubernetes.api.model.resource.v1.ResourceSlice;
import io.fabric8.kubernetes.api.model.resource.v1.ResourceSliceSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * This node's ResourceSlices ({@code resource.k8s.io/v1}), one per pool, kept equal to {@link SliceDevices}: created
 * when missing, updated with the pool's generation one higher when its devices change, deleted when the pool is
 * no longer configured. At start it adopts the slices an earlier run left (found by label), so a restart publishes
 * no duplicate and bumps no generation when nothing changed.
 */
public final class ResourceSlicePublisher {

    private static final Logger log = LoggerFactory.getLogger(ResourceSlicePublisher.class);
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    static final String NODE_LABEL = "vfio-broker.io/node";

    private final KubernetesClient client;
    private final DraProperties props;
    private Map<String, List<SliceDevices.Entry>> published;

    public ResourceSlicePublisher(KubernetesClient client, DraProperties props) {
        this.client = client;
        this.props = props;
    }

    /** The slice of a pool: {@code <node>-<pool>.<driver>}, a DNS subdomain. */
    String sliceName(String pool) {
        return pool + "." + props.driverName();
    }

    /** A label value is at most 63 characters; a longer node name is labelled by a digest of it. */
    String nodeLabel() {
        String n = props.nodeName();
        if (n.length() <= 63) return n;
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(n.getBytes(StandardCharsets.UTF_8));
            return "sha256-" + HexFormat.of().formatHex(h, 0, 20);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Makes the API server's slices match {@code desired}; true if it wrote anything. Nothing is asked when nothing changed. */
    public synchronized boolean publish(Map<String, List<SliceDevices.Entry>> desired) {
        if (desired.equals(published)) return false;
        Map<String, ResourceSlice> current = new LinkedHashMap<>();
        for (ResourceSlice s : client.resources(ResourceSlice.class).withLabel(MANAGED_BY, "vfio-broker").withLabel(NODE_LABEL, nodeLabel())
                .list().getItems()) {
            if (s.getSpec() != null && props.driverName().equals(s.getSpec().getDriver()) && s.getSpec().getPool() != null) {
                current.put(s.getSpec().getPool().getName(), s);
            }
        }
        boolean wrote = false;
        for (Map.Entry<String, List<SliceDevices.Entry>> e : desired.entrySet()) {
            ResourceSlice have = current.remove(e.getKey());
            List<Device> devices = devices(e.getValue());
            if (have == null) {
                client.resources(ResourceSlice.class).resource(slice(e.getKey(), 1L, devices)).create();
                log.info("event=resourceslice-created pool={} devices={}", e.getKey(), devices.size());
                wrote = true;
            } else if (!entries(have.getSpec().getDevices()).equals(e.getValue()) || !props.nodeName().equals(have.getSpec().getNodeName())) {
                long generation = Objects.requireNonNullElse(have.getSpec().getPool().getGeneration(), 0L) + 1;
                ResourceSlice next = slice(e.getKey(), generation, devices);
                next.getMetadata().setResourceVersion(have.getMetadata().getResourceVersion());
                next.getMetadata().setName(have.getMetadata().getName());
                client.resources(ResourceSlice.class).resource(next).update();
                log.info("event=resourceslice-updated pool={} generation={} devices={}", e.getKey(), generation, devices.size());
                wrote = true;
            }
        }
        for (ResourceSlice gone : current.values()) {
            client.resources(ResourceSlice.class).withName(gone.getMetadata().getName()).delete();
            log.info("event=resourceslice-deleted pool={} reason=\"pool no longer configured\"", gone.getSpec().getPool().getName());
            wrote = true;
        }
        published = Map.copyOf(desired);
        return wrote;
    }

    private ResourceSlice slice(String pool, long generation, List<Device> devices) {
        ResourceSlice s = new ResourceSlice();
        s.setMetadata(new ObjectMetaBuilder().withName(sliceName(pool))
                .addToLabels(MANAGED_BY, "vfio-broker").addToLabels(NODE_LABEL, nodeLabel()).build());
        ResourceSliceSpec spec = new ResourceSliceSpec();
        spec.setDriver(props.driverName());
        spec.setNodeName(props.nodeName());
        ResourcePool p = new ResourcePool();
        p.setName(pool);
        p.setGeneration(generation);
        p.setResourceSliceCount(1L);
        spec.setPool(p);
        spec.setDevices(devices);
        s.setSpec(spec);
        return s;
    }

    static List<Device> devices(List<SliceDevices.Entry> entries) {
        List<Device> out = new ArrayList<>();
        for (SliceDevices.Entry e : entries) {
            Device d = new Device();
            d.setName(e.name());
            Map<String, DeviceAttribute> attrs = new LinkedHashMap<>();
            e.attributes().forEach((k, v) -> {
                DeviceAttribute a = new DeviceAttribute();
                if (v instanceof Long l) a.setInt(l);
                else if (v instanceof Boolean b) a.setBool(b);
                else a.setString(String.valueOf(v));
                attrs.put(k, a);
            });
            d.setAttributes(attrs);
            out.add(d);
        }
        return out;
    }

    /** The entries a published slice carries, for comparison with what should be there. */
    static List<SliceDevices.Entry> entries(List<Device> devices) {
        List<SliceDevices.Entry> out = new ArrayList<>();
        if (devices == null) return out;
        for (Device d : devices) {
            Map<String, Object> attrs = new LinkedHashMap<>();
            if (d.getAttributes() != null) {
                d.getAttributes().forEach((k, a) -> attrs.put(k, a.getInt() != null ? a.getInt() : a.getBool() != null ? a.getBool() : a.getString()));
            }
            out.add(new SliceDevices.Entry(d.getName(), attrs));
        }
        return out;
    }
}
