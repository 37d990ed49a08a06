package io.vfiobroker;

import com.tngtech.archunit.core.domain.JavaClass;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.stereotype.Component;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** DaemonApplication scans named packages only (start-up time): a component or properties class elsewhere would be lost. */
class ComponentScanTest {

    @Test
    void everyComponentLivesInAScannedPackage() {
        List<String> scanned = Arrays.asList(DaemonApplication.class.getAnnotation(ComponentScan.class).basePackages());
        assertThat(outside(Component.class, scanned)).as("components outside %s", scanned).isEmpty();
    }

    @Test
    void everyPropertiesClassLivesInAScannedPackage() {
        List<String> scanned = Arrays.asList(DaemonApplication.class.getAnnotation(ConfigurationPropertiesScan.class).value());
        assertThat(outside(ConfigurationProperties.class, scanned)).as("properties classes outside %s", scanned).isEmpty();
    }

    private static List<String> outside(Class<? extends java.lang.annotation.Annotation> annotation, List<String> scanned) {
        return ArchitectureTest.DAEMON.stream()
                .filter(c -> c.isMetaAnnotatedWith(annotation) || c.isAnnotatedWith(annotation))
                .filter(c -> !c.equals(ArchitectureTest.DAEMON.get(DaemonApplication.class)))
                .filter(c -> scanned.stream().noneMatch(p -> c.getPackageName().equals(p) || c.getPackageName().startsWith(p + ".")))
                .map(JavaClass::getName).toList();
    }
}
