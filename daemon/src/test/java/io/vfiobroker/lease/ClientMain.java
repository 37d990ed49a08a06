package io.vfiobroker.lease;

import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.nativeshim.Posix;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** A client process for the lease tests, run as another uid: acquires, reads through the fds, waits. */
public final class ClientMain {
    public static void main(String[] args) throws Exception {
        try (VfioBrokerClient client = VfioBrokerClient.connect(Path.of(args[0]))) {
            AcquiredDevices got;
            try {
                got = client.acquire(List.of(args[1]), Backend.BACKEND_UNSPECIFIED, 0);
            } catch (StatusRuntimeException e) {
                System.out.println("ERROR " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
                return;
            }
            System.out.println("LEASE " + got.lease().getId() + " " + got.lease().getUid() + " " + got.lease().getPid());
            for (int i = 0; i < got.fds().size(); i++) {
                FdInfo info = got.bundle().getFds(i);
                byte[] buf = new byte[64];
                int n = Posix.pread(got.fds().get(i).fd(), buf, 0, "fd " + i);
                System.out.println("FD " + info.getKind() + " " + new String(buf, 0, n, StandardCharsets.UTF_8).strip());
            }
            System.out.println("READY");
            System.out.flush();
            String line = new BufferedReader(new InputStreamReader(System.in)).readLine();
            if ("release".equals(line)) {
                got.close();
                System.out.println("RELEASED");
            }
        }
    }
}
