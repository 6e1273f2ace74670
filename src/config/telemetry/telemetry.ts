// Telemetry: per-workload or per-namespace tracing, metrics and access-log
// settings, referencing providers configured in MeshConfig.

import { z } from "zod";
import { TELEMETRY_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Duration, Percentage } from "../primitives.js";
import { PolicyTargetReference, WorkloadSelector } from "../selectors.js";

const NonEmptyString = z.string().min(1);

export const ProviderRef = z.strictObject({
  name: NonEmptyString,
});

export const WorkloadMode = z.enum(["CLIENT_AND_SERVER", "CLIENT", "SERVER"]);

/** One of literal, environment, header, formatter (a oneof in Istio's API). */
const CustomTag = z.strictObject({
  literal: z.strictObject({ value: NonEmptyString }).optional(),
  environment: z.strictObject({ name: NonEmptyString, defaultValue: z.string().optional() }).optional(),
  header: z.strictObject({ name: NonEmptyString, defaultValue: z.string().optional() }).optional(),
  formatter: z.strictObject({ value: NonEmptyString }).optional(),
});

export const Tracing = z.strictObject({
  match: z.strictObject({ mode: WorkloadMode.optional() }).optional(),
  providers: z.array(ProviderRef).optional(),
  randomSamplingPercentage: Percentage.optional(),
  disableSpanReporting: z.boolean().optional(),
  customTags: z.record(z.string(), CustomTag).optional(),
  useRequestIdForTraceSampling: z.boolean().optional(),
  enableIstioTags: z.boolean().optional(),
  disableContextPropagation: z.boolean().optional(),
});
export type Tracing = z.infer<typeof Tracing>;

export const IstioMetric = z.enum([
  "ALL_METRICS",
  "REQUEST_COUNT",
  "REQUEST_DURATION",
  "REQUEST_SIZE",
  "RESPONSE_SIZE",
  "TCP_OPENED_CONNECTIONS",
  "TCP_CLOSED_CONNECTIONS",
  "TCP_SENT_BYTES",
  "TCP_RECEIVED_BYTES",
  "GRPC_REQUEST_MESSAGES",
  "GRPC_RESPONSE_MESSAGES",
]);

/** Either `metric` or `customMetric` (a oneof in Istio's API). */
const MetricSelector = z.strictObject({
  metric: IstioMetric.optional(),
  customMetric: NonEmptyString.optional(),
  mode: WorkloadMode.optional(),
});

const MetricsOverrides = z.strictObject({
  match: MetricSelector.optional(),
  disabled: z.boolean().optional(),
  tagOverrides: z
    .record(
      z.string(),
      z.strictObject({
        operation: z.enum(["UPSERT", "REMOVE"]).optional(),
        /** A CEL expression. */
        value: z.string().optional(),
      }),
    )
    .optional(),
});

export const Metrics = z.strictObject({
  providers: z.array(ProviderRef).optional(),
  overrides: z.array(MetricsOverrides).optional(),
  reportingInterval: Duration.optional(),
});
export type Metrics = z.infer<typeof Metrics>;

export const AccessLogging = z.strictObject({
  match: z.strictObject({ mode: WorkloadMode.optional() }).optional(),
  providers: z.array(ProviderRef).optional(),
  disabled: z.boolean().optional(),
  /** `expression` is a CEL expression selecting which requests are logged. */
  filter: z.strictObject({ expression: z.string().optional() }).optional(),
});
export type AccessLogging = z.infer<typeof AccessLogging>;

export const TelemetrySpec = z.strictObject({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  tracing: z.array(Tracing).max(16).optional(),
  metrics: z.array(Metrics).optional(),
  accessLogging: z.array(AccessLogging).optional(),
});
export type TelemetrySpec = z.infer<typeof TelemetrySpec>;

export const TelemetrySchema = meshObjectSchema("Telemetry", TELEMETRY_API_VERSIONS, TelemetrySpec, {
  specRequired: false,
});
export type Telemetry = z.infer<typeof TelemetrySchema>;
