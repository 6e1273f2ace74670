// Runs one `trellis` command in-process, with captured output, given stdin and
// the exit code it ends with (its own or commander's for usage errors).
import { Command, CommanderError } from "commander";
import type { CommandIo } from "../../src/cli/io.js";

export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(
  register: (program: Command, io: CommandIo) => void,
  argv: string[],
  stdin = "",
): Promise<CommandRun> {
  const r: CommandRun = { code: -1, stdout: "", stderr: "" };
  const program = new Command();
  program.exitOverride().configureOutput({
    writeOut: (s) => {
      r.stdout += s;
    },
    writeErr: (s) => {
      r.stderr += s;
    },
  });
  register(program, {
    stdout: (s) => {
      r.stdout += s;
    },
    stderr: (s) => {
      r.stderr += s;
    },
    readStdin: async () => stdin,
    exit: (code) => {
      r.code = code;
    },
  });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    r.code = err.exitCode;
  }
  return r;
}
