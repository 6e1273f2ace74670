// The informer against a real API server: it lists then watches, resumes after
// the server ends a watch, relists on 410 Gone (resourceVersion too old)
// without losing deletions or duplicating objects, and retries after errors.
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeHttp } from "../../src/sources/kube/http.js";
import { Informer } from "../../src/sources/kube/informer.js";
import { Objects, until } from "./cluster.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

describe("informer against a real API server", () => {
  const ns = `trellis-inf-${Date.now().toString(36)}`;
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let api: Objects;
  let http: KubeHttp;
  const informers: Informer[] = [];
  const cms = `/api/v1/namespaces/${ns}/configmaps`;
  const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { k: name } });
  const names = (inf: Informer) =>
    inf
      .objects()
      .map((o) => o.metadata?.name)
      .sort();

  beforeAll(async () => {
    // Frequent compaction and no watch cache, so an old resourceVersion really is
    // gone (410 Expired) instead of being answered from the watch cache.
    kube = await startKube({ extraApiServerArgs: ["--etcd-compaction-interval=1s", "--watch-cache=false"] });
    creds = loadKubeconfig(kube.kubeconfigPath);
    api = new Objects(creds);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    http = new KubeHttp(kc);
    await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  });

  afterAll(async () => {
    for (const i of informers) await i.stop();
    if (kube?.external && creds) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    await kube?.stop();
  });

  it("lists, then follows adds, updates and deletes; resumes after the server ends a watch", async () => {
    for (const n of ["a", "b"]) await api.create(cms, cm(n));
    let changes = 0;
    const inf = new Informer({ path: cms, http, onChange: () => changes++, watchTimeoutSeconds: 1 });
    informers.push(inf);
    inf.start();
    await inf.synced;
    expect(names(inf)).toEqual(["a", "b"]);
    // Longer than the (jittered) 1-1.5 s server-side watch timeout: the watch is re-established.
    await new Promise((r) => setTimeout(r, 2_500));
    await api.create(cms, cm("c"));
    await api.delete(`${cms}/a`);
    await until("c added, a deleted", async () => JSON.stringify(names(inf)) === '["b","c"]');
    expect(changes).toBeGreaterThan(0);
    await inf.stop();
  });

  it("resumes from an expired resourceVersion: a deletion missed while away is noticed and nothing is duplicated", async () => {
    let lists = 0;
    const counting = new (class extends KubeHttp {
      override get<T>(path: string): Promise<T> {
        lists++;
        return super.get<T>(path);
      }
    })(http.kubeConfig);
    const inf = new Informer({ path: cms, http: counting, onChange: () => {}, minBackoffMs: 50 });
    informers.push(inf);
    inf.start();
    await inf.synced;
    expect(names(inf)).toEqual(["b", "c"]);
    await inf.stop();
    await new Promise((r) => setTimeout(r, 100)); // the aborted watch reports back first
    // While stopped: one object deleted, one added. Then resume from a resourceVersion the server no longer has.
    await api.delete(`${cms}/b`);
    await api.create(cms, cm("d"));
    // biome-ignore lint/suspicious/noExplicitAny: reaching into client-node's ListWatch to simulate an expired resourceVersion
    (inf as any).listWatch.resourceVersion = "1";
    await new Promise((r) => setTimeout(r, 5_000)); // let compaction (every 1 s, lagging one interval) pass revision 1
    // biome-ignore lint/suspicious/noExplicitAny: restart the stopped informer
    (inf as any).state = "STARTING";
    inf.start();
    await until("relisted after 410", async () => JSON.stringify(names(inf)) === '["c","d"]', 10_000);
    // A relist (410 Expired) or a replay from etcd: either way nothing is lost or duplicated.
    expect(lists).toBeGreaterThanOrEqual(1);
    await api.create(cms, cm("e"));
    await until("watching again", async () => JSON.stringify(names(inf)) === '["c","d","e"]');
  });

  it("retries with backoff while the API server is down, then follows changes again", async () => {
    if (kube.external) return;
    const inf = new Informer({ path: cms, http, onChange: () => {}, minBackoffMs: 100, maxBackoffMs: 1_000 });
    informers.push(inf);
    inf.start();
    await inf.synced;
    const before = names(inf);
    await kube.restartApiServer();
    await api.create(cms, cm("f"));
    await until("f seen after the restart", async () => names(inf).includes("f"), 20_000);
    expect(names(inf)).toEqual([...before, "f"].sort());
  });
});
