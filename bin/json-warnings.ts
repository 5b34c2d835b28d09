// Node prints process warnings (process.emitWarning) as plain text on stderr. In a gateway whose
// output is JSON lines, that text breaks log parsers; this replaces Node's printer with one JSON
// line per warning, in the logger's shape (level, time, service, msg).

interface WarningProcess {
  removeAllListeners(event: 'warning'): unknown;
  on(event: 'warning', listener: (warning: Error) => void): unknown;
  stderr: { write(text: string): unknown };
}

/** Replaces Node's plain-text warning printer of `proc` with JSON lines on its stderr. */
export function jsonWarnings(proc: WarningProcess): void {
  proc.removeAllListeners('warning');
  proc.on('warning', (warning) => {
    const code = (warning as { code?: unknown }).code;
    const line = {
      level: 'warn',
      time: new Date().toISOString(),
      service: 'modelgate',
      event: 'process_warning',
      warning: { name: warning.name, ...(typeof code === 'string' ? { code } : {}) },
      msg: warning.message,
    };
    proc.stderr.write(JSON.stringify(line) + '\n');
  });
}
