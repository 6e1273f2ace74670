// Prometheus metrics of the xDS server. Registered on a registry the caller owns
// (admin/ exposes it); the stream engine reports through server.ts.
import client from "prom-client";

export class XdsMetrics {
  readonly connected: client.Gauge<"kind">;
  readonly pushes: client.Counter<"type">;
  readonly pushBytes: client.Counter<"type">;
  readonly pushDuration: client.Histogram;
  readonly convergence: client.Histogram<"type">;
  readonly nacks: client.Counter<"type">;
  readonly staleNonces: client.Counter<"type">;
  readonly authFailures: client.Counter<"reason">;
  readonly requests: client.Counter<"type" | "kind">;

  readonly pushSlots: client.Gauge<"state">;
  /** Read when /metrics is scraped (set by the xDS server). */
  slots: (() => { inUse: number; queued: number }) | undefined;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.connected = new client.Gauge({
      name: "trellis_xds_connected_proxies",
      help: "xDS streams currently connected, by stream kind (SotW or Delta)",
      labelNames: ["kind"],
      registers,
    });
    this.pushes = new client.Counter({
      name: "trellis_xds_pushes_total",
      help: "xDS responses sent, by resource type",
      labelNames: ["type"],
      registers,
    });
    this.pushBytes = new client.Counter({
      name: "trellis_xds_push_bytes_total",
      help: "Bytes of xDS responses sent, by resource type",
      labelNames: ["type"],
      registers,
    });
    this.pushDuration = new client.Histogram({
      name: "trellis_xds_push_duration_seconds",
      help: "Time to compute and write one push to every connected proxy",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.convergence = new client.Histogram({
      name: "trellis_xds_proxy_convergence_seconds",
      help: "Time from a configuration change entering Trellis to the proxy ACKing it, by resource type",
      labelNames: ["type"],
      buckets: [0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.nacks = new client.Counter({
      name: "trellis_xds_nacks_total",
      help: "xDS responses rejected by proxies (NACK with error_detail), by resource type",
      labelNames: ["type"],
      registers,
    });
    this.staleNonces = new client.Counter({
      name: "trellis_xds_stale_nonce_requests_total",
      help: "Requests ignored because they answered an older response (stale nonce)",
      labelNames: ["type"],
      registers,
    });
    this.authFailures = new client.Counter({
      name: "trellis_xds_auth_failures_total",
      help: "xDS RPCs refused by authentication or authorisation",
      labelNames: ["reason"],
      registers,
    });
    const metrics = this;
    this.pushSlots = new client.Gauge({
      name: "trellis_xds_push_slots",
      help: "Streams holding a push slot (responses in flight) and streams queued for one (push-slots.ts)",
      labelNames: ["state"],
      registers,
      collect() {
        const s = metrics.slots?.();
        if (!s) return;
        this.set({ state: "in_use" }, s.inUse);
        this.set({ state: "queued" }, s.queued);
      },
    });
    this.requests = new client.Counter({
      name: "trellis_xds_requests_total",
      help: "xDS discovery requests received, by resource type and stream kind",
      labelNames: ["type", "kind"],
      registers,
    });
  }
}
