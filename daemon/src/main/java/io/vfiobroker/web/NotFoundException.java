package io.vfiobroker.web;

/** The request named something the host does not have. */
public class NotFoundException extends RuntimeException {
    public NotFoundException(String message) {
        super(message);
    }
}
