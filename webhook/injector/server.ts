// The HTTPS endpoint the API server calls: POST /inject, plus /healthz and
// /readyz for the kubelet's probes on the same port. Hardened the way the
// Istio CVEs on its webhook port (CVE-2022-24726, CVE-2022-39278) taught: a
// body limit, a request timeout well under the webhook's timeoutSeconds, no
// crash on any input (every failure is a coded answer). The serving
// certificate can be swapped at any time (`setServingCertificate`) without
// closing the listener; connections already open keep the certificate they
// started with.
import type { Server as HttpsServer } from "node:https";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { type DecidePod, parseAdmissionReview, reviewPod, reviewResponse } from "./admission.js";
import { errorBody, INJECTOR_ERRORS } from "./errors.js";
import type { InjectorMetrics } from "./metrics.js";
import type { NamespaceLookup } from "./namespaces.js";

export interface TlsPair {
  certPem: string;
  keyPem: string;
}

export interface InjectorLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface InjectorServerOptions {
  tls: TlsPair;
  namespaces: NamespaceLookup;
  decide: DecidePod;
  /** undefined when ready; else why not (shown by /readyz). */
  notReady: () => string | undefined;
  metrics: InjectorMetrics;
  logger: InjectorLogger;
  /** Largest accepted body (default 4 MiB: a CREATE carries one pod, at most the 1.5 MiB etcd object limit). */
  bodyLimitBytes?: number;
  /** Whole-request deadline (default 5 s, half the webhook's 10 s timeoutSeconds). */
  requestTimeoutMs?: number;
}

export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

function tlsOptions(tls: TlsPair) {
  return { key: tls.keyPem, cert: tls.certPem, minVersion: "TLSv1.2" as const };
}

export function buildInjectorServer(opts: InjectorServerOptions): FastifyInstance<HttpsServer> {
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    https: tlsOptions(opts.tls),
    logger: false,
    bodyLimit: opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    requestTimeout,
    connectionTimeout: requestTimeout * 2,
    forceCloseConnections: "idle",
  }) as unknown as FastifyInstance<HttpsServer>;
  // Node's default would wait 60 s for headers; a slow client must not hold a socket that long.
  app.server.headersTimeout = requestTimeout;

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const why = opts.notReady();
    if (why) return reply.code(INJECTOR_ERRORS.notReady.status).send(errorBody(INJECTOR_ERRORS.notReady, why));
    return { status: "ready" };
  });

  app.post("/inject", async (req, reply) => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const parsed = parseAdmissionReview(req.body);
    if (!parsed.ok) {
      const detail = parsed.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; ");
      opts.metrics.observe("error", seconds());
      opts.logger.warn({ errors: detail }, "rejected a malformed AdmissionReview");
      return reply.code(400).send(errorBody(INJECTOR_ERRORS.malformedReview, detail));
    }
    const outcome = await reviewPod(parsed, { namespaces: opts.namespaces, decide: opts.decide });
    const elapsed = seconds();
    opts.metrics.observe(outcome.result, elapsed);
    const fields = {
      pod: outcome.pod,
      namespace: outcome.namespace,
      uid: parsed.review.request.uid,
      operation: parsed.review.request.operation,
      result: outcome.result,
      reason: outcome.reason,
      ...(parsed.review.request.dryRun ? { dryRun: true } : {}),
      ms: Math.round(elapsed * 1e4) / 10,
    };
    if (outcome.result === "error") opts.logger.error(fields, `pod ${outcome.result}`);
    else opts.logger.info(fields, `pod ${outcome.result}`);
    return reviewResponse(outcome.response);
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    let e: (typeof INJECTOR_ERRORS)[keyof typeof INJECTOR_ERRORS] = INJECTOR_ERRORS.internal;
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") e = INJECTOR_ERRORS.bodyTooLarge;
    else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") e = INJECTOR_ERRORS.unsupportedMediaType;
    else if ((err.statusCode ?? 500) < 500) e = INJECTOR_ERRORS.malformedReview;
    opts.metrics.observe("error", 0);
    if (e === INJECTOR_ERRORS.internal) opts.logger.error({ err: err.message, stack: err.stack }, "internal error");
    else opts.logger.warn({ code: e.code, err: err.message }, "rejected a request");
    return reply.code(e.status).send(errorBody(e, err.message));
  });

  return app;
}

/** Swaps the certificate new TLS handshakes get; throws (keeping the old one) if the pair is unusable. */
export function setServingCertificate(app: FastifyInstance<HttpsServer>, tls: TlsPair): void {
  app.server.setSecureContext(tlsOptions(tls));
}
