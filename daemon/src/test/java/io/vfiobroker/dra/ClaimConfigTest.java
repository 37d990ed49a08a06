package io.vfiobroker.dra;

import io.vfiobroker.domain.Backend;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClaimConfigTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    private static ClaimConfig apply(ClaimConfig base, String json) {
        return base.apply(JSON.readTree(json), "cfg");
    }

    @Test
    void laterConfigsOverrideFieldByFieldAndQuantitiesAreBytes() {
        ClaimConfig c = apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"backend\":\"iommufd\",\"memlockLimit\":\"1.5Gi\"}");
        c = apply(c, "{\"apiVersion\":\"vfio-broker.io/v1\",\"kind\":\"VfioDeviceConfig\",\"keepBound\":true}");
        assertThat(c).isEqualTo(new ClaimConfig(Backend.IOMMUFD, 3L << 29, true));
        assertThat(apply(c, "{\"apiVersion\":\"vfio-broker.io/v1\",\"memlockLimit\":\"64M\"}").memlockLimit()).isEqualTo(64_000_000L);
        assertThat(apply(c, "{\"apiVersion\":\"vfio-broker.io/v1\",\"memlockLimit\":4096}").memlockLimit()).isEqualTo(4096L);
    }

    @Test
    void everyBadFieldIsNamed() {
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"backend\":\"legacy\"}")).hasMessageContaining("field apiVersion");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"kind\":\"Other\"}"))
                .hasMessageContaining("field kind");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"backend\":3}"))
                .hasMessageContaining("field backend");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"memlockLimit\":-1}"))
                .hasMessageContaining("field memlockLimit");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"memlockLimit\":\"99999999Ei\"}"))
                .hasMessageContaining("field memlockLimit");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"keepBound\":\"yes\"}"))
                .hasMessageContaining("field keepBound");
        assertThatThrownBy(() -> apply(ClaimConfig.DEFAULT, "{\"apiVersion\":\"vfio-broker.io/v1\",\"memLock\":1}"))
                .hasMessageContaining("unknown field memLock").hasMessageStartingWith("cfg: ");
    }
}
