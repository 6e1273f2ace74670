// The trellis-init container: programs the pod's iptables before any other
// container starts, with only the two capabilities that needs (NET_ADMIN to
// write the nat table, NET_RAW for iptables' raw sockets). Its flags are
// trellis-init's own (webhook/init/args.ts), every one spelled out so the pod
// spec shows the whole capture configuration.
import type { CaptureSettings } from "./annotations.js";
import { INBOUND_CAPTURE_PORT, INIT_CONTAINER, OUTBOUND_CAPTURE_PORT, PROXY_GID, PROXY_UID } from "./names.js";
import type { Container } from "./pod.js";

export function initArgs(capture: CaptureSettings): string[] {
  return [
    "--proxy-uid",
    String(PROXY_UID),
    "--proxy-gid",
    String(PROXY_GID),
    "--inbound-capture-port",
    String(INBOUND_CAPTURE_PORT),
    "--outbound-capture-port",
    String(OUTBOUND_CAPTURE_PORT),
    "--inbound-ports",
    capture.inboundPorts,
    "--exclude-inbound-ports",
    capture.excludeInboundPorts,
    "--outbound-ip-ranges",
    capture.outboundIpRanges,
    "--exclude-outbound-ip-ranges",
    capture.excludeOutboundIpRanges,
    "--exclude-outbound-ports",
    capture.excludeOutboundPorts,
  ];
}

export function initContainer(image: string, capture: CaptureSettings): Container {
  return {
    name: INIT_CONTAINER,
    image,
    args: initArgs(capture),
    // Istio's proxy_init resources: it runs for a moment, but is a Node.js program plus iptables-restore.
    resources: { requests: { cpu: "10m", memory: "10Mi" }, limits: { cpu: "2000m", memory: "1024Mi" } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      // iptables needs the capabilities in the effective set, which a non-root UID does not get.
      runAsGroup: 0,
      runAsNonRoot: false,
      runAsUser: 0,
    },
  };
}
