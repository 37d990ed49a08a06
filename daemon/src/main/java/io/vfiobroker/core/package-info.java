/**
 * The application core the adapters call ({@link io.vfiobroker.core.DeviceProvisioning}), and how its services are
 * built ({@link io.vfiobroker.core.CoreWiring}), once for the daemon's configuration and the CLI without a daemon.
 */
package io.vfiobroker.core;
