// Starts `loops-web serve` as its own process (the real command: node bin/loops-web.js serve) on
// 127.0.0.1 with a free port, and waits for its "listening on <url>" line. Tests talk to it over
// real HTTP; `stop()` ends it with SIGTERM, `kill()` with SIGKILL (a crash, for fault tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { writeFixtureModels } from './fixture-model-dir';

const BIN = fileURLToPath(new URL('../../bin/loops-web.js', import.meta.url));

export interface ServeProcess {
  readonly url: string;
  readonly apiKey: string;
  readonly child: ChildProcess;
  /** Everything the process printed (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** `loops-web serve --port 0` with a fresh random API key (in the environment, not argv). */
export async function spawnServe(
  args: readonly string[],
  timeoutMs = 180_000,
): Promise<ServeProcess> {
  const apiKey = `tml-${randomBytes(12).toString('hex')}`;
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    env: { ...process.env, LOOPS_API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`loops-web serve did not start in ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`loops-web serve exited with ${code} before listening:\n${out}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    apiKey,
    child,
    output: () => out,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** `loops-web serve` on the fixture model (cpu backend, checkpoints in memory), as tests use it. */
export function spawnFixtureServe(): Promise<ServeProcess> {
  return spawnServe([
    '--backend',
    'cpu',
    '--models-dir',
    writeFixtureModels(),
    '--checkpoint-dir',
    'memory',
  ]);
}
