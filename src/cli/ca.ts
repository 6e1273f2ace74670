// `trellis ca rotate-root --phase publish|switch|retire`: the operator's
// handle on three-phase root rotation (docs/security.md "Root rotation").
//
// The phase lives in the CA Secret (`trellis-ca`). This command reads it,
// performs one phase on a CA built from it, and writes it back with optimistic
// concurrency (resourceVersion): a concurrent change makes it fail rather than
// overwrite. Every `trellis serve --kube` replica polls the Secret and adopts
// the new phase (xds-security.ts), so all of them publish, sign and retire in
// step. Nothing is issued here.
import { type Command, InvalidArgumentError } from "commander";
import {
  CA_SECRET_NAME,
  type CaSecretHttp,
  createCertificateAuthority,
  ISTIO_CACERTS_SECRET_NAME,
  type PersistedCa,
  type RotationState,
  readCaSecret,
  saveCaSecret,
  splitPemCertificates,
  storedSigning,
} from "../security/ca/index.js";
import { KubeHttp, loadKubeConfig } from "../sources/kube/index.js";

export type RotatePhase = "publish" | "switch" | "retire";

const NEEDS: Record<RotatePhase, RotationState> = { publish: "STABLE", switch: "PUBLISHED", retire: "SWITCHED" };
const NEXT_STEP: Record<RotationState, string> = {
  STABLE: "publish",
  PUBLISHED: "switch",
  SWITCHED: "retire",
};

function phase(value: string): RotatePhase {
  if (value === "publish" || value === "switch" || value === "retire") return value;
  throw new InvalidArgumentError(`expected publish, switch or retire, got "${value}"`);
}

/**
 * Performs one phase on the CA stored in `namespace`/`name` and saves it. Returns the new
 * persisted state; throws (with what to do) when the phase does not apply or the Secret changed.
 */
export async function rotateRoot(
  http: CaSecretHttp,
  namespace: string,
  step: RotatePhase,
  out: (line: string) => void = () => {},
  name = CA_SECRET_NAME,
): Promise<PersistedCa> {
  const where = `Secret ${namespace}/${name}`;
  const plugged = await readCaSecret(http, namespace, ISTIO_CACERTS_SECRET_NAME, { managed: false });
  if (plugged) {
    throw new Error(
      `the mesh CA is the user-provided Secret ${namespace}/${ISTIO_CACERTS_SECRET_NAME}: ` +
        "rotate it by editing that Secret (docs/security.md, Root rotation), not with this command",
    );
  }
  const stored = await readCaSecret(http, namespace, name, { managed: true });
  if (!stored) throw new Error(`${where} does not exist (start \`trellis serve --kube\` once to create it)`);
  const state = stored.rotation.state;
  if (state !== NEEDS[step]) {
    throw new Error(
      `${where} is in rotation state ${state}; \`${step}\` needs ${NEEDS[step]}` +
        ` (the next step from ${state} is \`${NEXT_STEP[state]}\`)`,
    );
  }
  const ca = await createCertificateAuthority({
    signing: storedSigning(stored),
    rotation: stored.rotation,
    workers: 0, // nothing is issued here
  });
  try {
    const before = ca.trustBundlePem();
    if (step === "publish") await ca.beginRootRotation();
    else if (step === "switch") await ca.switchSigning();
    // The control plane's replicas know what they issued; this process issued nothing, so the
    // operator's wait of one workload TTL after `switch` is what makes retiring safe.
    else await ca.retireOldRoot();
    const next = ca.persisted();
    const saved = await saveCaSecret(http, namespace, name, next, stored.resourceVersion);
    if (!saved.ok) {
      throw new Error(
        `${where} changed while rotating (someone else wrote it): nothing was saved; run the command again`,
      );
    }
    const roots = splitPemCertificates(ca.trustBundlePem()).length;
    if (step === "publish") {
      out(
        `published a new root in ${where}: the trust bundle now holds ${roots} roots; signing stays with the old one.`,
      );
      out("Replicas push the bundle to every proxy within seconds; mounted root ConfigMaps take up to a kubelet sync.");
      out("Next, when every workload has the new bundle: trellis ca rotate-root --phase switch");
    } else if (step === "switch") {
      out(`switched signing to the new root in ${where}: certificates are re-issued under it now.`);
      out(
        "Wait at least one workload certificate TTL (--workload-cert-ttl, default 24h) so that every " +
          "certificate signed by the old root has been replaced or has expired, then: " +
          "trellis ca rotate-root --phase retire",
      );
    } else {
      out(`retired the old root in ${where}: the trust bundle holds ${roots} root${roots === 1 ? "" : "s"}.`);
    }
    if (before === ca.trustBundlePem() && step !== "switch") out("(the trust bundle did not change)");
    return next;
  } finally {
    await ca.close();
  }
}

export function caCommand(program: Command): void {
  const ca = program.command("ca").description("manage the mesh certificate authority (the trellis-ca Secret)");
  ca.command("rotate-root")
    .description(
      "advance three-phase root rotation: publish (new root trusted), switch (new root signs), retire (old root dropped)",
    )
    .requiredOption("--phase <phase>", "publish, switch or retire", phase)
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--namespace <ns>", "control-plane namespace (default: $POD_NAMESPACE or trellis-system)")
    .action(async (o: { phase: RotatePhase; kubeconfig?: string; namespace?: string }) => {
      const http = new KubeHttp(loadKubeConfig(o.kubeconfig));
      const namespace = o.namespace ?? process.env.POD_NAMESPACE ?? "trellis-system";
      await rotateRoot(http, namespace, o.phase, (line) => process.stdout.write(`${line}\n`));
    });
}
