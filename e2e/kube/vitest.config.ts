import { defineConfig } from "vitest/config";

// Own config: the root vitest.config.ts only includes src/, webhook/ and test/.
// Run with `npx vitest run --config e2e/kube/vitest.config.ts` (or `npm run test:kube`).
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["e2e/kube/**/*.test.ts"],
    // beforeAll may build etcd and kube-apiserver on a cold cache (minutes on 2 cores).
    hookTimeout: 40 * 60_000,
    testTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
