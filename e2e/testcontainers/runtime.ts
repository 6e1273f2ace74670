// Finds the container engine the suite needs, or says why there is none, so
// each test can report itself as skipped with that reason instead of passing.
import { existsSync } from "node:fs";
import { getContainerRuntimeClient } from "testcontainers";

export type ContainerRuntime = { ok: true; description: string } | { ok: false; reason: string };

/**
 * Set to 1 where a Docker engine is expected (a CI job that provisions one):
 * a missing engine then fails every test instead of skipping it.
 */
export const REQUIRE_ENV = "TRELLIS_E2E_REQUIRE_DOCKER";

/**
 * testcontainers tries, in order: TESTCONTAINERS_HOST_OVERRIDE / DOCKER_HOST,
 * ~/.testcontainers.properties, /var/run/docker.sock, the rootless socket and
 * the Windows named pipe, pinging each; `getContainerRuntimeClient()` throws
 * when none answers.
 */
export async function detectContainerRuntime(): Promise<ContainerRuntime> {
  try {
    const client = await getContainerRuntimeClient();
    const { host, operatingSystem, serverVersion } = client.info.containerRuntime;
    return { ok: true, description: `${operatingSystem} (engine ${serverVersion}) at ${host}` };
  } catch (err) {
    const dockerHost = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : "DOCKER_HOST unset";
    const socket = existsSync("/var/run/docker.sock") ? "/var/run/docker.sock present" : "no /var/run/docker.sock";
    return {
      ok: false,
      reason: `no Docker engine (${dockerHost}, ${socket}; testcontainers: ${(err as Error).message})`,
    };
  }
}

export const dockerRequired = (): boolean => process.env[REQUIRE_ENV] === "1";
