// The bridge to webhook/inject/: the same pure injection `trellis inject`
// uses, turned into the three answers the webhook gives (inject with a patch,
// skip, deny).
import type { MeshConfig } from "../../src/config/mesh-config.js";
import { admissionPatch, defaultInjectionConfig, type InjectionConfig } from "../inject/index.js";
import type { DecidePod } from "./admission.js";

export interface InjectionSettings {
  mesh: MeshConfig;
  controlPlaneNamespace: string;
  /** Overrides MeshConfig `defaultConfig.discoveryAddress` (`--xds-address`). */
  xdsAddress?: string;
  /** Overrides MeshConfig `injection.initImage` (`--init-image`). */
  initImage?: string;
}

export function injectionConfig(s: InjectionSettings): InjectionConfig {
  const mesh: MeshConfig = {
    ...s.mesh,
    defaultConfig: { ...s.mesh.defaultConfig, discoveryAddress: s.xdsAddress ?? s.mesh.defaultConfig.discoveryAddress },
    injection: { ...s.mesh.injection, initImage: s.initImage ?? s.mesh.injection.initImage },
  };
  return {
    ...defaultInjectionConfig(mesh),
    controlPlaneNamespace: s.controlPlaneNamespace,
    ...(s.xdsAddress ? { xdsAddress: s.xdsAddress } : {}),
    ...(s.initImage ? { initImage: s.initImage } : {}),
  };
}

export function webhookDecider(cfg: InjectionConfig): DecidePod {
  return (pod, namespace) => {
    const { decision, patch } = admissionPatch(pod as Parameters<typeof admissionPatch>[0], namespace, cfg);
    const warnings = decision.warnings?.length ? { warnings: decision.warnings } : {};
    if (decision.errors?.length)
      return { action: "deny", reason: decision.reason, problems: decision.errors, ...warnings };
    if (!decision.inject) return { action: "skip", reason: decision.reason, ...warnings };
    return { action: "inject", reason: decision.reason, patch, ...warnings };
  };
}
