// What a CLI command needs from the process (stdout, stderr, stdin, exit), so
// tests can run commands in-process with their own.
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /** Ends the command with this exit code (after the output is written). */
  exit(code: number): void;
}

export async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: readProcessStdin,
  // Exit once stdout is flushed: open sockets (e.g. HTTP keep-alive with --kube) would otherwise keep the process alive.
  exit: (code) => {
    process.stdout.write("", () => process.exit(code));
  },
};
