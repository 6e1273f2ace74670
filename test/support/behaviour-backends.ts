// gRPC test servers with scripted behaviour (fail every n-th call, fail always,
// answer slowly, hold calls to build concurrency), answering with their name so
// a test sees which endpoint served each RPC.
import * as grpc from "@grpc/grpc-js";
import { ECHO_SERVICE } from "./backends.js";

export interface BehaviourOptions {
  /** Fail every n-th call with UNAVAILABLE (n = 2: every other call). */
  failEvery?: number;
  /** Fail every call with UNAVAILABLE. */
  failAll?: boolean;
  /** Answer after this many milliseconds. */
  delayMs?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
}

export interface BehaviourBackend {
  name: string;
  port: number;
  calls: number;
  inFlight: number;
  maxInFlight: number;
  stop(): Promise<void>;
}

export async function startBehaviourBackend(name: string, opts: BehaviourOptions = {}): Promise<BehaviourBackend> {
  const server = new grpc.Server();
  const b: BehaviourBackend = {
    name,
    port: 0,
    calls: 0,
    inFlight: 0,
    maxInFlight: 0,
    stop: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }),
  };
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      b.calls++;
      b.inFlight++;
      b.maxInFlight = Math.max(b.maxInFlight, b.inFlight);
      const n = b.calls;
      const answer = () => {
        b.inFlight--;
        if (opts.failAll || (opts.failEvery && n % opts.failEvery === 0)) {
          cb({ code: grpc.status.UNAVAILABLE, details: `${name} failed call ${n} on purpose` });
        } else {
          cb(null, { backend: name, text: call.request.text });
        }
      };
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else answer();
    },
  });
  b.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host ?? "127.0.0.1"}:0`, grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  return b;
}
