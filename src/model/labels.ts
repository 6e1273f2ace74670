// Label selection, as Kubernetes and Istio mean it: every label of the selector
// is present with the same value (an empty selector selects everything).

export function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
