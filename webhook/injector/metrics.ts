// Prometheus metrics of trellis-injector, served on their own plain-HTTP port.
import client from "prom-client";
import type { ReviewResult } from "./admission.js";

export class InjectorMetrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<"result">;
  private readonly duration: client.Histogram<"result">;
  private readonly certExpiry: client.Gauge;
  private readonly certRotations: client.Counter;
  private readonly caBundle: client.Counter<"result">;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) client.collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new client.Counter({
      name: "trellis_injector_requests_total",
      help: "Admission requests answered, by result: injected, skipped (no patch), denied (invalid injection annotation), error (refused: namespace unreadable, injection failed, or malformed request)",
      labelNames: ["result"],
      registers,
    });
    for (const result of ["injected", "skipped", "denied", "error"]) this.requests.inc({ result }, 0);
    this.duration = new client.Histogram({
      name: "trellis_injector_request_duration_seconds",
      help: "Time to answer an admission request, from the body being read to the response",
      labelNames: ["result"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.certExpiry = new client.Gauge({
      name: "trellis_injector_serving_cert_expiry_timestamp_seconds",
      help: "When the serving certificate in use expires (Unix time)",
      registers,
    });
    this.certRotations = new client.Counter({
      name: "trellis_injector_serving_cert_rotations_total",
      help: "Serving certificates swapped in without a restart (renewed, or reloaded from --tls-cert-file)",
      registers,
    });
    this.caBundle = new client.Counter({
      name: "trellis_injector_ca_bundle_reconciles_total",
      help: "Checks of the webhook configuration's caBundle, by result: patched, unchanged, missing (no such configuration), error",
      labelNames: ["result"],
      registers,
    });
  }

  observe(result: ReviewResult, seconds: number): void {
    this.requests.inc({ result });
    this.duration.observe({ result }, seconds);
  }

  servingCert(notAfter: Date, rotated: boolean): void {
    this.certExpiry.set(notAfter.getTime() / 1000);
    if (rotated) this.certRotations.inc();
  }

  caBundleResult(result: string): void {
    this.caBundle.inc({ result });
  }
}
