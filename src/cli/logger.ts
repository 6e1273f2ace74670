// Structured JSON logs (pino) on stdout; one logger per process.
import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(level = process.env.TRELLIS_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { component: "trellis" }, timestamp: pino.stdTimeFunctions.isoTime });
}
