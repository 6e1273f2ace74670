// Draws the scaling curves of a `npm run bench` results file as standalone SVG
// line charts (no plotting dependency): one line per mesh size M and xDS mode,
// against the number of proxies N, with the target as a red line where
// there is one. Curves, not single numbers, show how cost grows: e.g. CPU per
// VirtualService push should grow sub-linearly in N when proxies share views.
//
//   node dist/bench/plot.js bench/results/<file>.json [outDir=docs/perf]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The part of an aggregate (run.ts) the plots read. */
interface Agg {
  size: { n: number; m: number; sidecar: boolean };
  mode: string;
  coldStartAllMs: { median: number | null };
  vsAfterDebounceMs: { p99: number | null };
  vsCpuSecondsPerChange: number | null;
  churnAfterDebounceMs: { p99: number | null };
  churnCpuSecondsPerChange: number | null;
  rssPerProxyBytes: number | null;
  marginalHeapPerProxyBytes: number | null;
  bytesPerProxyInitial: number | null;
}

interface Chart {
  file: string;
  title: string;
  yLabel: string;
  value: (a: Agg) => number | null | undefined;
  target?: number;
}

const CHARTS: Chart[] = [
  {
    file: "cold-start.svg",
    title: "Cold start: time until every proxy has full config",
    yLabel: "seconds (median of runs)",
    value: (a) => nullable(a.coldStartAllMs.median, (x) => x / 1000),
    target: 30,
  },
  {
    file: "vs-convergence.svg",
    title: "VirtualService change: convergence p99 after debounce",
    yLabel: "ms",
    value: (a) => a.vsAfterDebounceMs.p99,
    target: 1000,
  },
  {
    file: "vs-cpu.svg",
    title: "Control-plane CPU per VirtualService push",
    yLabel: "CPU seconds",
    value: (a) => a.vsCpuSecondsPerChange,
  },
  {
    file: "endpoint-convergence.svg",
    title: "Endpoint change: convergence p99 after debounce",
    yLabel: "ms",
    value: (a) => a.churnAfterDebounceMs.p99,
    target: 500,
  },
  {
    file: "endpoint-cpu.svg",
    title: "Control-plane CPU per endpoint change",
    yLabel: "CPU seconds",
    value: (a) => a.churnCpuSecondsPerChange,
  },
  {
    file: "memory-per-proxy.svg",
    title: "Control-plane RSS per connected proxy (views included)",
    yLabel: "KB",
    value: (a) => nullable(a.rssPerProxyBytes, (x) => x / 1024),
    target: 100,
  },
  {
    file: "memory-marginal.svg",
    title: "Control-plane memory per extra proxy on existing views",
    yLabel: "KB (V8 heap + external)",
    value: (a) => nullable(a.marginalHeapPerProxyBytes, (x) => x / 1024),
    target: 100,
  },
  {
    file: "bytes-per-proxy.svg",
    title: "Bytes one proxy receives for its initial full push",
    yLabel: "KB",
    value: (a) => nullable(a.bytesPerProxyInitial, (x) => x / 1024),
  },
];

function nullable(x: number | null | undefined, f: (x: number) => number): number | null {
  return x === null || x === undefined ? null : f(x);
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const W = 720;
const H = 420;
const M = { left: 70, right: 170, top: 40, bottom: 50 };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** 1, 2, 5 × 10^k steps giving about five ticks up to `max`. */
function niceStep(max: number): number {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 5, 10]) if (f * mag >= raw) return f * mag;
  return 10 * mag;
}

function fmt(x: number): string {
  if (x === 0) return "0";
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

export function chartSvg(chart: Chart, aggs: readonly Agg[]): string {
  const series = new Map<string, { m: number; mode: string; sidecar: boolean; points: [number, number][] }>();
  for (const a of aggs) {
    const v = chart.value(a);
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const key = `${a.size.m}${a.size.sidecar ? "s" : ""} ${a.mode}`;
    let s = series.get(key);
    if (!s) {
      s = { m: a.size.m, mode: a.mode, sidecar: a.size.sidecar, points: [] };
      series.set(key, s);
    }
    s.points.push([a.size.n, v]);
  }
  const all = [...series.values()];
  for (const s of all) s.points.sort((p, q) => p[0] - q[0]);
  all.sort((a, b) => a.m - b.m || Number(a.sidecar) - Number(b.sidecar) || a.mode.localeCompare(b.mode));
  const xs = [...new Set(all.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const maxX = Math.max(1, ...xs);
  const maxY = Math.max(Number.MIN_VALUE, ...all.flatMap((s) => s.points.map((p) => p[1])), chart.target ?? 0) * 1.1;
  const step = niceStep(maxY);
  const top = Math.ceil(maxY / step) * step;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number) => M.left + (x / maxX) * pw;
  const py = (y: number) => M.top + ph - (y / top) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  for (let y = 0; y <= top + step / 2; y += step) {
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  for (const x of xs) {
    out.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="black"/>`,
      `<text x="${px(x)}" y="${M.top + ph + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="black"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="black"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">proxies (N)</text>`,
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  if (chart.target !== undefined) {
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${py(chart.target)}" y2="${py(chart.target)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
      `<text x="${M.left + pw - 4}" y="${py(chart.target) - 5}" text-anchor="end" fill="#d62728">target ${fmt(chart.target)}</text>`,
    );
  }
  const ms = [...new Set(all.map((s) => `${s.m}${s.sidecar ? "s" : ""}`))];
  all.forEach((s, k) => {
    const color = COLORS[ms.indexOf(`${s.m}${s.sidecar ? "s" : ""}`) % COLORS.length] as string;
    const dash = s.mode === "delta" ? ` stroke-dasharray="5 3"` : "";
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const [x, y] of s.points) {
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = M.top + 10 + k * 18;
    const lx = M.left + pw + 14;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly + 4}">M=${s.m}${s.sidecar ? " Sidecar" : ""} ${esc(s.mode)}</text>`,
    );
  });
  if (all.length === 0) {
    out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle">no data</text>`);
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** Writes every chart of `results` (a run.ts results object) into `dir`; returns the files written. */
export function writePlots(results: { aggregates: readonly unknown[] }, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const aggs = results.aggregates as Agg[];
  return CHARTS.map((c) => {
    const file = join(dir, c.file);
    writeFileSync(file, chartSvg(c, aggs));
    return file;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [input, outDir = "docs/perf"] = process.argv.slice(2);
  if (!input) {
    console.error("usage: node dist/bench/plot.js <results.json> [outDir=docs/perf]");
    process.exit(2);
  }
  const written = writePlots(JSON.parse(readFileSync(input, "utf8")), outDir);
  for (const f of written) console.log(f);
}
