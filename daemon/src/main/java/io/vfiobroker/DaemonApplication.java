package io.vfiobroker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurationExcludeFilter;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.TypeExcludeFilter;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;

/** The broker daemon: inventory and control plane over REST (and, as they land, gRPC and the kubelet API). */
// The scan leaves out management-context configurations: they belong to the management listener's child context
// (META-INF/spring imports), and scanned here they would guard the main listener too.
// Both scans name the packages that hold components: a scan of all of io.vfiobroker also reads, class file by class
// file, the api jar's ~600 generated gRPC classes (3 MB). ComponentScanTest fails on a component outside them.
@SpringBootApplication
@ComponentScan(basePackages = {"io.vfiobroker.config", "io.vfiobroker.web", "io.vfiobroker.kubelet", "io.vfiobroker.dra",
        "io.vfiobroker.nodeplugin"}, excludeFilters = {
        @ComponentScan.Filter(type = FilterType.CUSTOM, classes = TypeExcludeFilter.class),
        @ComponentScan.Filter(type = FilterType.CUSTOM, classes = AutoConfigurationExcludeFilter.class),
        @ComponentScan.Filter(type = FilterType.ANNOTATION, classes = ManagementContextConfiguration.class)})
@ConfigurationPropertiesScan({"io.vfiobroker.config", "io.vfiobroker.web", "io.vfiobroker.kubelet", "io.vfiobroker.dra",
        "io.vfiobroker.quota"})
public class DaemonApplication {

    public static ConfigurableApplicationContext start(String... args) {
        return SpringApplication.run(DaemonApplication.class, args);
    }

    public static void main(String[] args) {
        start(args);
    }
}
