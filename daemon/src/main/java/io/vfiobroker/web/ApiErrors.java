package io.vfiobroker.web;

import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/** Errors as RFC 9457 problem details whose detail is a sentence naming what was wrong. */
@RestControllerAdvice
public class ApiErrors {

    @ExceptionHandler(IllegalArgumentException.class)
    ProblemDetail badRequest(IllegalArgumentException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, e.getMessage());
    }

    @ExceptionHandler(io.vfiobroker.binding.BindingException.class)
    ProblemDetail binding(io.vfiobroker.binding.BindingException e) {
        // Refused: policy or protection said no and nothing changed. Otherwise the kernel failed a step.
        return ProblemDetail.forStatusAndDetail(e.refused() ? HttpStatus.CONFLICT : HttpStatus.INTERNAL_SERVER_ERROR, e.getMessage());
    }

    @ExceptionHandler(io.vfiobroker.quota.QuotaExceededException.class)
    ProblemDetail quota(io.vfiobroker.quota.QuotaExceededException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.TOO_MANY_REQUESTS, e.getMessage());
    }

    @ExceptionHandler(NotFoundException.class)
    ProblemDetail notFound(NotFoundException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, e.getMessage());
    }
}
