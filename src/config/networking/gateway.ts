// Gateway: a load balancer at the edge of the mesh (ingress or egress) —
// which ports it exposes, for which hosts, with which TLS settings.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Port, StringList, StringMap } from "../primitives.js";

export const GatewayPort = z.strictObject({
  number: Port,
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS. */
  protocol: z.string(),
  name: z.string(),
  /** Deprecated in Istio. */
  targetPort: Port.optional(),
});
export type GatewayPort = z.infer<typeof GatewayPort>;

const TLSProtocolVersion = z.enum(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]);

export const ServerTLSSettings = z.strictObject({
  httpsRedirect: z.boolean().optional(),
  mode: z.enum(["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]).optional(),
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  caCrl: z.string().optional(),
  credentialName: z.string().optional(),
  credentialNames: z.array(z.string()).min(1).max(2).optional(),
  caCertCredentialName: z.string().optional(),
  tlsCertificates: z
    .array(
      z.strictObject({
        serverCertificate: z.string().optional(),
        privateKey: z.string().optional(),
        caCertificates: z.string().optional(),
      }),
    )
    .min(1)
    .max(2)
    .optional(),
  subjectAltNames: StringList.optional(),
  verifyCertificateSpki: StringList.optional(),
  verifyCertificateHash: StringList.optional(),
  minProtocolVersion: TLSProtocolVersion.optional(),
  maxProtocolVersion: TLSProtocolVersion.optional(),
  cipherSuites: StringList.optional(),
  insecureSkipVerify: z.boolean().optional(),
});
export type ServerTLSSettings = z.infer<typeof ServerTLSSettings>;

export const Server = z.strictObject({
  port: GatewayPort,
  bind: z.string().optional(),
  hosts: z.array(z.string()).min(1),
  tls: ServerTLSSettings.optional(),
  defaultEndpoint: z.string().optional(),
  name: z.string().optional(),
});
export type Server = z.infer<typeof Server>;

export const GatewaySpec = z.strictObject({
  servers: z.array(Server).optional(),
  /** Labels of the gateway pods this configuration applies to. */
  selector: StringMap.optional(),
});
export type GatewaySpec = z.infer<typeof GatewaySpec>;

export const GatewaySchema = meshObjectSchema("Gateway", NETWORKING_API_VERSIONS, GatewaySpec, {
  specRequired: false,
});
export type Gateway = z.infer<typeof GatewaySchema>;
