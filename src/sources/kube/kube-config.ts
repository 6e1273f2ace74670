// Where the API server and credentials come from: an explicit kubeconfig file,
// else $KUBECONFIG / ~/.kube/config, else the pod's in-cluster service account.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) {
    if (!existsSync(file)) throw new Error(`--kubeconfig ${file}: no such file`);
    kc.loadFromFile(file);
  } else if (process.env.KUBECONFIG || existsSync(join(homedir(), ".kube", "config"))) {
    kc.loadFromDefault();
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    throw new Error(
      "no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account",
    );
  }
  if (!kc.getCurrentCluster()) throw new Error("kubeconfig has no current cluster (check current-context)");
  return kc;
}
