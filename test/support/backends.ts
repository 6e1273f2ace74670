// Real gRPC test servers (plain grpc-js, no xDS) that answer with their own
// name, so a test can see which backend an RPC reached.
import * as grpc from "@grpc/grpc-js";

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()),
};

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: "/trellis.test.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export interface Backend {
  name: string;
  port: number;
  calls: number;
  stop(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  const backend: Backend = { name, port: 0, calls: 0, stop: () => new Promise((r) => server.tryShutdown(() => r())) };
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      backend.calls++;
      cb(null, { backend: name, text: call.request.text });
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  return backend;
}

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, "Echo");

export function echo(
  client: grpc.Client,
  text: string,
  deadlineMs = 5_000,
): Promise<{ backend: string; text: string }> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic client method
    (client as any).Echo(
      { text },
      { deadline: Date.now() + deadlineMs },
      (err: Error | null, res: { backend: string; text: string }) => (err ? reject(err) : resolve(res)),
    );
  });
}
