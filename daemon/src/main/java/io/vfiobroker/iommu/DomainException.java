package io.vfiobroker.iommu;

/** The kernel refused to set up the IOMMU domain; the message names the call and what would change it. */
public class DomainException extends RuntimeException {
    private final String errno;

    public DomainException(String message, String errno, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public String errno() {
        return errno;
    }
}
