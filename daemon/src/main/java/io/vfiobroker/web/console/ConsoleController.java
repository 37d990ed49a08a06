package io.vfiobroker.web.console;

import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.GetMapping;

/**
 * Entry points of the admin console, whose files (from the vfio-broker-web-console jar) Spring Boot serves
 * from classpath:/META-INF/resources/console/. The console routes by URL fragment, so no other path is needed.
 */
@Controller
public class ConsoleController {

    @GetMapping({"/", "/console"})
    String root() {
        return "redirect:/console/";
    }

    // Static resource handling maps files, not directories: /console/ needs its index named.
    @GetMapping("/console/")
    String index() {
        return "forward:/console/index.html";
    }
}
