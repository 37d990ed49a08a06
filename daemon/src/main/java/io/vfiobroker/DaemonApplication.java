package io.vfiobroker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.ConfigurableApplicationContext;

/** The broker daemon: inventory and control plane over REST (and, as they land, gRPC and the kubelet API). */
@SpringBootApplication
@ConfigurationPropertiesScan
public class DaemonApplication {

    public static ConfigurableApplicationContext start(String... args) {
        return SpringApplication.run(DaemonApplication.class, args);
    }

    public static void main(String[] args) {
        start(args);
    }
}
