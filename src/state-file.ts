/**
 * Owner-only state files for the programs that keep keys on a user's machine (the desktop
 * agent's key store, the mobile authenticator's devices): a directory made 0700, files written
 * 0600 and atomically — temp file in the same directory, fsync, rename, fsync the directory —
 * so a crash leaves the old file or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The temp files of `name` a killed write may have left: `.<name>.<hex>.tmp`. */
const tempPattern = (name: string): RegExp => new RegExp(`^\\.${escape(name)}\\.[0-9a-f]+\\.tmp$`);

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable. Windows cannot open a directory for fsync; NTFS journals renames.
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `<dir>/<name>` atomically, owner-only. */
export async function writeStateFile(dir: string, name: string, data: string): Promise<void> {
  const tmp = path.join(dir, `.${name}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.chmod(0o600).catch(() => undefined);
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path.join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Makes the state directory (0700) if needed, removes the temp files a killed write of `name`
 * left, and reads `<dir>/<name>`: its text (made owner-only again if it was not), or undefined
 * when there is none yet.
 */
export async function openStateFile(dir: string, name: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pattern = tempPattern(name);
  for (const entry of await readdir(dir)) {
    if (pattern.test(entry)) await rm(path.join(dir, entry), { force: true });
  }
  const file = path.join(dir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (process.platform !== 'win32') {
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) await chmod(file, 0o600);
  }
  return text;
}

/** Runs each step after every earlier one, so concurrent writes do not overwrite each other. */
export function serialiser(): <T>(step: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return <T>(step: () => Promise<T>): Promise<T> => {
    const run = chain.then(step);
    chain = run.catch(() => undefined);
    return run;
  };
}
