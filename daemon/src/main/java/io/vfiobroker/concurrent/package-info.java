/** Background threads of the daemon: how they are named, started and stopped. */
package io.vfiobroker.concurrent;
