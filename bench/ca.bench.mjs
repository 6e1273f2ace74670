// Certificate issuance benchmark (`npm run bench:ca`, after `npm run build`).
//
// For each design it issues N X.509-SVIDs (P-256, 24 h, generated P-256 root)
// and reports the issuance rate and what the event loop went through meanwhile:
// perf_hooks.monitorEventLoopDelay (p50/p99/max timer lateness) and
// performance.eventLoopUtilization (how busy the main thread was, i.e. what is
// left for serving xDS). Two load shapes:
//   burst — all N requested at once (a reconnect storm): maximum rate;
//   paced — 500 requests/s in 10 ms ticks (the target rate): loop delay at target.
// Designs:
//   workers=K  — the shipped CA (src/security/ca): template on the loop, keygen + sign in K worker threads;
//   inline     — the shipped CA with workers=0 (everything on the loop: shows what the pool buys);
//   threadpool — same DER templates, keygen + sign via async generateKeyPair / crypto.sign (libuv pool);
//   peculiar   — @peculiar/x509 on WebCrypto (the webhook's issuer, webhook/injector/certs.ts).
//
// Usage: node bench/ca.bench.mjs [--n 5000] [--runs 3] [--designs workers=1,workers=2,threadpool] [--json]
//        node bench/ca.bench.mjs --quick   (tiny sizes, for CI: checks the benchmark still runs)
import { generateKeyPair, sign } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const dist = new URL("../dist/", import.meta.url);
const ca = await import(new URL("src/security/ca/index.js", dist).href);
const { workloadTbs, certificate } = await import(new URL("src/security/ca/certificate.js", dist).href);
const { loadSigner, randomSerial } = await import(new URL("src/security/ca/signer.js", dist).href);
const { pem } = await import(new URL("src/security/ca/der.js", dist).href);

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "5000" },
    runs: { type: "string", default: "3" },
    designs: { type: "string", default: "workers=1,workers=2,threadpool,inline,peculiar" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const N = args.quick ? 50 : Number(args.n);
const RUNS = args.quick ? 1 : Number(args.runs);
const PACED_RATE = 500;
const PACED_SECONDS = args.quick ? 0.2 : 4;
const id = (i) => ({ trustDomain: "cluster.local", namespace: "bench", serviceAccount: `sa-${i % 1000}` });

/** SPKI and PKCS#8 of a P-256 key from its JWK, as the shipped worker does (OpenSSL 3's encoders are slow). */
function p256Encodings(privateKey) {
  const jwk = privateKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
  const spki = Buffer.concat([Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"), point]);
  const pkcs8 = Buffer.concat([
    Buffer.from("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420", "hex"),
    Buffer.from(jwk.d, "base64url"),
    Buffer.from("a144034200", "hex"),
    point,
  ]);
  return { spki, keyPem: pem("PRIVATE KEY", pkcs8) };
}

/** The threadpool design, built from the CA's own template pieces so only the crypto placement differs. */
function threadpoolIssuer(material) {
  const signer = loadSigner(material, Date.now());
  const issueWorkload = (ident) =>
    new Promise((resolve, reject) => {
      generateKeyPair("ec", { namedCurve: "P-256" }, (err, _publicKey, privateKey) => {
        if (err) return reject(err);
        const { spki, keyPem } = p256Encodings(privateKey);
        const now = Date.now();
        const tbs = workloadTbs({
          serial: randomSerial(),
          signatureAlgorithm: signer.algorithm,
          issuer: signer.subject,
          notBefore: now - 60_000,
          notAfter: now + 86_400_000,
          spki,
          issuerKeyId: signer.keyId,
          spiffeId: ca.spiffeIdOf(ident),
        });
        sign(signer.digest, tbs, signer.key, (err2, sig) => {
          if (err2) return reject(err2);
          resolve({ certificateChainPem: pem("CERTIFICATE", certificate(tbs, signer.algorithm, sig)), keyPem });
        });
      });
    });
  return { issueWorkload, close: async () => {} };
}

async function peculiarIssuer() {
  const certs = await import(new URL("webhook/injector/certs.js", dist).href);
  const webhookCa = await certs.createCa({ lifetimeMs: 86_400_000 });
  return {
    issueWorkload: (ident) =>
      certs.issueServingCert(webhookCa, {
        dnsNames: [`${ident.serviceAccount}.example`],
        lifetimeMs: 86_400_000,
      }),
    close: async () => {},
  };
}

async function makeIssuer(design) {
  if (design.startsWith("workers=")) {
    return ca.createCertificateAuthority({ signing: { kind: "generated" }, workers: Number(design.slice(8)) });
  }
  if (design === "inline") return ca.createCertificateAuthority({ signing: { kind: "generated" }, workers: 0 });
  if (design === "threadpool") {
    const root = await ca.createCertificateAuthority({ signing: { kind: "generated" }, workers: 0 });
    const material = root.persisted().current;
    await root.close();
    return threadpoolIssuer(material);
  }
  if (design === "peculiar") return peculiarIssuer();
  throw new Error(`unknown design ${design}`);
}

function measure() {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    h.disable();
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const ms = (v) => Math.round((v / 1e6) * 100) / 100;
    return { seconds, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), elu };
  };
}

async function burst(issuer, n) {
  const stop = measure();
  await Promise.all(Array.from({ length: n }, (_, i) => issuer.issueWorkload(id(i))));
  const m = stop();
  return { rate: n / m.seconds, ...m };
}

async function paced(issuer, rate, seconds) {
  const total = Math.round(rate * seconds);
  const pending = [];
  const stop = measure();
  const t0 = performance.now();
  let sent = 0;
  // Every 10 ms, send what is due by now: the schedule follows the clock, not the timer's accuracy.
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (sent < due) pending.push(issuer.issueWorkload(id(sent++)));
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  await Promise.all(pending);
  const m = stop();
  return { achieved: total / m.seconds, ...m };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
const designs = args.designs.split(",").filter(Boolean);
console.error(
  `# ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}, N=${N}, runs=${RUNS}`,
);
for (const design of designs) {
  const n = design === "peculiar" || design === "inline" ? Math.min(N, args.quick ? N : 1000) : N;
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const issuer = await makeIssuer(design);
    await Promise.all(Array.from({ length: 50 }, (_, i) => issuer.issueWorkload(id(i)))); // warm up
    const b = await burst(issuer, n);
    const p = design === "peculiar" ? undefined : await paced(issuer, PACED_RATE, PACED_SECONDS);
    await issuer.close();
    runs.push({ b, p });
    if (args.json) console.log(JSON.stringify({ design, run: r, n, burst: b, paced: p }));
  }
  const pick = (f) => median(runs.map(f).filter((v) => v !== undefined));
  results.push({
    design,
    n,
    rate: pick((x) => x.b.rate),
    burstP99: pick((x) => x.b.p99),
    burstMax: pick((x) => x.b.max),
    burstElu: pick((x) => x.b.elu),
    pacedP99: runs[0]?.p ? pick((x) => x.p?.p99) : undefined,
    pacedElu: runs[0]?.p ? pick((x) => x.p?.elu) : undefined,
  });
}

const f = (v, d = 0) => (v === undefined ? "—" : v.toFixed(d));
console.log(
  "| design | N | burst rate (/s) | burst loop p99 / max (ms) | burst loop busy | 500/s paced: loop p99 (ms) | paced loop busy |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  console.log(
    `| ${r.design} | ${r.n} | ${f(r.rate)} | ${f(r.burstP99, 1)} / ${f(r.burstMax, 1)} | ${f(r.burstElu * 100)} % | ${f(r.pacedP99, 1)} | ${r.pacedElu === undefined ? "—" : `${f(r.pacedElu * 100)} %`} |`,
  );
}
