/**
 * What the kubelet's two plugin kinds on this node share: the device plugin ({@code kubelet/}) and the DRA driver
 * ({@code dra/}). Pools and their health, how a device reaches a container, the broker-mode allocation registry and
 * its hook into the leases, and gRPC on Unix sockets. It depends on neither plugin.
 */
package io.vfiobroker.nodeplugin;
