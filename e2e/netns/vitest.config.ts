import { defineConfig } from "vitest/config";

// Own config: the root vitest.config.ts only includes src/, webhook/ and test/.
// Run with `npm run test:netns` (as root, after `npm run build`). Without root,
// ip or iptables every test reports itself as skipped, with the reason, in the
// verbose reporter's output; TRELLIS_E2E_REQUIRE_NETNS=1 makes that a failure.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["e2e/netns/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    fileParallelism: false,
    // One line per test, so a skipped test shows its reason (`↓ name [reason]`).
    reporters: ["verbose"],
  },
});
