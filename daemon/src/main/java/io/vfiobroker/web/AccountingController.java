package io.vfiobroker.web;

import io.vfiobroker.accounting.AccountingService;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Memlock accounting for admins: a fresh sample per request (the console polls it every 2 s). */
@RestController
@RequestMapping("/api/v1")
public class AccountingController {

    private final AccountingService accounting;

    public AccountingController(AccountingService accounting) {
        this.accounting = accounting;
    }

    /** {@code fresh=false} answers the sampler's last report without reading /proc. */
    @GetMapping("/accounting")
    public AccountingService.Report accounting(@RequestParam(defaultValue = "true") boolean fresh) {
        return fresh ? accounting.sample() : accounting.latest();
    }
}
