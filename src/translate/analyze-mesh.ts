// Cross-object checks that `trellis analyze` adds to the snapshot diagnostics
// of prepare(): Sidecar egress hosts naming no service, workload selectors
// selecting nothing (in every namespace of a live cluster), deprecated API
// versions and fields. Pure, like the per-area analyzers; codes in
// analyze-codes.ts.
//
// analyzeSnapshot (and so `serve`, CR status) runs the first two as well, with
// selectors checked only in namespaces whose workloads the snapshot holds;
// deprecations are analyze-only (Istio's own documented examples use them).
// The CLI drops the exact duplicates.
import type { Diagnostic } from "../model/diagnostic.js";
import { analyzeDeprecations } from "./analyze-deprecated.js";
import { analyzeSidecarEgressHosts } from "./analyze-hosts.js";
import { analyzeWorkloadSelectors } from "./analyze-selectors.js";
import type { TranslationInputs } from "./context.js";

export { ANALYZE_CODES } from "./analyze-codes.js";

export interface MeshAnalysisOptions {
  /**
   * The input is a whole live cluster: a namespace without Pods really has no
   * workloads, so selectors there are reported too. Otherwise selectors are
   * checked only where the input holds workloads.
   */
  liveCluster?: boolean;
}

export function analyzeMesh(inputs: TranslationInputs, options: MeshAnalysisOptions = {}): Diagnostic[] {
  return [
    ...analyzeSidecarEgressHosts(inputs),
    ...analyzeWorkloadSelectors(inputs, { everyNamespace: options.liveCluster === true }),
    ...analyzeDeprecations(inputs),
  ];
}
