// Listeners for a proxy: API listeners for proxyless gRPC; sidecar capture
// listeners come with the traffic-management translators.
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { TranslationContext } from "../context.js";
import { apiListenerName } from "../names.js";
import { apiListener } from "./api-listener.js";

export function listeners(ctx: TranslationContext): Listener[] {
  if (ctx.proxy.class !== "proxyless-grpc") return [];
  const out: Listener[] = [];
  for (const svc of ctx.services) {
    for (const port of svc.ports) {
      const name = apiListenerName(svc.host, port.number);
      out.push(apiListener(name, name));
    }
  }
  return out;
}
