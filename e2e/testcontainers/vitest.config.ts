import { defineConfig } from "vitest/config";

// Own config: the root vitest.config.ts only includes src/, webhook/ and test/.
// Run with `npm run test:containers`. Without a Docker engine every test
// reports itself as skipped, with the reason, in the verbose reporter's output.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["e2e/testcontainers/**/*.test.ts"],
    // A cold run pulls envoyproxy/envoy and testcontainers' helper images (ryuk, sshd).
    hookTimeout: 10 * 60_000,
    testTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
    // One line per test, so a skipped test shows its reason (`↓ name [reason]`).
    reporters: ["verbose"],
  },
});
