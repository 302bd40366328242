/**
 * The `loops-web` command line: `loops-web serve [flags]` starts the server (serve.ts) and prints
 * one line, `loops-web serve: listening on <url> …`, once it accepts requests; Ctrl-C (SIGINT) or
 * SIGTERM stops it. The API key may come from LOOPS_API_KEY instead of --api-key, so it does not
 * show in the process list. The key is never printed.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendRequest } from '../protocol/engine-api';
import { BACKEND_REQUESTS } from '../runtime/backend';
import { DEFAULT_SERVE_OPTIONS, startServer, type ServeOptions } from './serve';

export const USAGE = `usage: loops-web serve [--port 8000] [--host 127.0.0.1] [--api-key KEY]
                       [--models-dir DIR] [--checkpoint-dir DIR|memory] [--backend auto|cpu|wasm]
                       [--hub-url URL] [--max-body-mb 64] [--allow-origin ORIGIN]...

  Serves the Node engine over the Tinker REST protocol (JSON form, SDK ≤ 0.24.1):
  new ServiceClient({ engine: 'remote', base_url, api_key }) in loops-web, or
  tinker.ServiceClient(base_url=...) in Python.

  --port            port (0: any free one)                                  default 8000
  --host            interface; anything but this machine needs --api-key    default 127.0.0.1
  --api-key         required as X-API-Key on every request (or LOOPS_API_KEY)
  --models-dir      folder of shipped models (models.json + HF layout)      default public/models
  --checkpoint-dir  where checkpoints are kept ('memory': not kept)         default ~/.cache/loops-web/checkpoints
  --backend         TF.js backend                                           default auto
  --hub-url         where Hugging Face repo ids are fetched from            default https://huggingface.co
  --max-body-mb     largest request body accepted                           default 64
  --allow-origin    a browser origin allowed to call (repeat; '*' for any)  default none`;

/** Flags → options; throws with the usage on a bad flag. */
export function parseServeArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Partial<ServeOptions> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      'models-dir': { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      backend: { type: 'string' },
      'hub-url': { type: 'string' },
      'max-body-mb': { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
    },
  });
  const port = Number(values.port ?? DEFAULT_SERVE_OPTIONS.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${values.port} must be an integer in [0, 65535].`);
  const maxMb = Number(values['max-body-mb'] ?? 64);
  if (!Number.isFinite(maxMb) || maxMb <= 0)
    throw new Error(`--max-body-mb ${values['max-body-mb']} must be a positive number.`);
  const backend = (values.backend ?? 'auto') as BackendRequest;
  if (!BACKEND_REQUESTS.includes(backend))
    throw new Error(`--backend ${backend} must be one of ${BACKEND_REQUESTS.join(', ')}.`);
  const dir =
    values['checkpoint-dir'] ??
    join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'loops-web', 'checkpoints');
  return {
    port,
    host: values.host ?? DEFAULT_SERVE_OPTIONS.host,
    apiKey: values['api-key'] ?? env.LOOPS_API_KEY ?? null,
    modelsDir: values['models-dir'] ? resolve(values['models-dir']) : undefined,
    checkpointDir: dir === 'memory' ? null : resolve(dir),
    backend,
    hubUrl: (values['hub-url'] ?? DEFAULT_SERVE_OPTIONS.hubUrl).replace(/\/+$/, ''),
    maxBodyBytes: Math.round(maxMb * 1024 * 1024),
    allowOrigins: values['allow-origin'] ?? [],
  };
}

/** Runs `loops-web <argv>`; resolves with the exit code when the command is done. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === '--help' ||
    command === '-h' ||
    (command === 'serve' && rest.includes('--help'))
  ) {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'serve') {
    console.error(command ? `unknown command '${command}'\n${USAGE}` : USAGE);
    return 2;
  }
  let options: Partial<ServeOptions>;
  try {
    options = parseServeArgs(rest, env);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const server = await startServer(options);
  const where = options.checkpointDir
    ? `checkpoints in ${options.checkpointDir}`
    : 'checkpoints in memory';
  console.log(
    `loops-web serve: listening on ${server.url} (backend ${server.backend}, ${where}, ${options.apiKey ? 'X-API-Key required' : 'no key'})`,
  );
  await new Promise<void>((done) => {
    const stop = () => void server.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
