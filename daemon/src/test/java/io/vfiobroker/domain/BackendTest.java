package io.vfiobroker.domain;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackendTest {

    @Test
    void parsesTheWireNamesOnly() {
        assertThat(Backend.parse("legacy")).isEqualTo(Backend.LEGACY);
        assertThat(Backend.parse("iommufd")).isEqualTo(Backend.IOMMUFD);
        assertThat(Backend.IOMMUFD.wireName()).isEqualTo("iommufd");
        assertThatThrownBy(() -> Backend.parse("vfio-magic")).hasMessage("unknown backend 'vfio-magic': legacy or iommufd");
        assertThatThrownBy(() -> Backend.parse("either")).hasMessageContaining("'either'");
    }
}
