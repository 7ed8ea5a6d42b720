/**
 * Messages in progress, with bounded memory. A message being received is held in memory while it is small; past
 * SPILL_AFTER_BYTES (256 KiB), or once all unfinished messages together hold the memory budget
 * (limits.spoolMemoryBytes), it goes on in a temporary file of its own. The files together may hold the disk budget
 * (limits.spoolDiskBytes); a message that would pass it is dropped and answered 452 4.3.1 at its end, as a full store.
 *
 * Durability is the store's: at the end of the message the file is read back into one Buffer (with the Received:
 * header in front) and handed to the sink's save() as before, which answers only once it is durable; the temporary
 * file is never fsync'd and is removed as soon as it was read, when the message is dropped, and when the connection
 * ends. A message being stored is whole in memory while the store works on it (the stores keep and parse it whole).
 *
 * Files are named `<pid>.<start>-<random>.part`: at start a spool removes every file whose process is gone, and those of
 * an earlier process that had this pid (a container's pid 1), never those of a live server (--workers, or tests with
 * several servers in one process).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** A message larger than this goes to a file, whatever the budget. */
export const SPILL_AFTER_BYTES = 256 * 1024;

export type SpoolOptions = Readonly<{
  /** Where the temporary files go (created, mode 0700). */
  dir: string;
  /** Bytes of unfinished messages in memory, all drafts together, before new bytes go to files. */
  memoryBytes: number;
  /** Bytes in temporary files, all drafts together; past it a message is dropped (452 4.3.1). */
  diskBytes: number;
  /** Default SPILL_AFTER_BYTES; smaller in tests. */
  spillAfterBytes?: number;
}>;

/** The system's temporary directory, one folder per user (the stores without a data directory). */
export const defaultSpoolDir = (): string => join(tmpdir(), `mailwire-spool-${process.getuid?.() ?? 'user'}`);

const START = Math.round(performance.timeOrigin).toString(36);
const OURS = `${process.pid}.${START}`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Removes the files left by servers that are gone; returns how many. */
function removeLeftovers(dir: string): number {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)\.([0-9a-z]+)-[0-9a-f]+\.part$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    const gone = pid === process.pid ? `${m[1]}.${m[2]}` !== OURS : !processAlive(pid);
    if (gone) {
      rmSync(join(dir, name), { force: true });
      removed++;
    }
  }
  return removed;
}

/** One server's drafts and what they hold together. */
export class MessageSpool {
  readonly dir: string;
  readonly #memoryBudget: number;
  readonly #diskBudget: number;
  readonly spillAfterBytes: number;
  /** Bytes of unfinished messages in memory now, all drafts together (a spilled draft's bytes not yet written count). */
  memoryInUse = 0;
  /** Bytes in temporary files now, or on their way there. */
  diskInUse = 0;
  /** Files left by an earlier run and removed at start. */
  readonly leftoversRemoved: number;

  /** Creates the directory and removes the files an earlier run left. Throws a clear error when it cannot. */
  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.#memoryBudget = opts.memoryBytes;
    this.#diskBudget = opts.diskBytes;
    this.spillAfterBytes = opts.spillAfterBytes ?? SPILL_AFTER_BYTES;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.leftoversRemoved = removeLeftovers(this.dir);
    } catch (e) {
      throw new Error(`the directory for messages in progress, ${this.dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  draft(): MessageDraft {
    return new MessageDraft(this);
  }

  /** @internal for MessageDraft */
  overMemory(): boolean {
    return this.memoryInUse > this.#memoryBudget;
  }

  /** @internal for MessageDraft: takes `bytes` of the disk budget, or says there is no room. */
  reserveDisk(bytes: number): boolean {
    if (this.diskInUse + bytes > this.#diskBudget) return false;
    this.diskInUse += bytes;
    return true;
  }

  /** @internal for MessageDraft */
  newPath(): string {
    return join(this.dir, `${OURS}-${randomBytes(6).toString('hex')}.part`);
  }
}

/** The message at its end: in memory, on its way back from its file, or dropped for want of disk budget. */
export type Taken =
  | Readonly<{ kind: 'memory'; raw: Buffer }>
  | Readonly<{ kind: 'file'; raw: Promise<Buffer> }>
  | Readonly<{ kind: 'full' }>;

/** A spilled message's file: bytes queued for it, one write at a time, and what it counts in the spool's budgets. */
type SpillFile = {
  spool: MessageSpool;
  path: string;
  handle: Promise<FileHandle>;
  queued: string[];
  /** Bytes queued or being written: counted in spool.memoryInUse until written. */
  memory: number;
  /** Bytes counted in spool.diskInUse: written, queued or being written. */
  disk: number;
  written: number;
  writing: Promise<void> | null;
  /** A failed open or write: nothing more is written, and the message is not stored (451). */
  error: Error | null;
  dropped: boolean;
};

/**
 * One connection's message in progress (reused message after message): latin1 strings, one char a byte, as the core
 * streams them. write() never blocks: a spilled message's bytes are written in the background, one write at a time.
 */
export class MessageDraft {
  readonly #spool: MessageSpool;
  #lines: string[] = [];
  /** Bytes of #lines, counted in the spool's memoryInUse. */
  #memory = 0;
  #file: SpillFile | null = null;
  #full = false;

  constructor(spool: MessageSpool) {
    this.#spool = spool;
  }

  /** Whether the message went to a file (for tests and the transcript). */
  get spilled(): boolean {
    return this.#file !== null;
  }

  write(bytes: string): void {
    if (this.#full) return;
    const spool = this.#spool;
    const n = bytes.length;
    const file = this.#file;
    if (file === null) {
      this.#lines.push(bytes);
      this.#memory += n;
      spool.memoryInUse += n;
      if (this.#memory > spool.spillAfterBytes || spool.overMemory()) this.#spill();
      return;
    }
    if (file.error !== null) return; // the message will get 451
    if (!spool.reserveDisk(n)) return this.#drop();
    file.disk += n;
    file.memory += n;
    spool.memoryInUse += n;
    file.queued.push(bytes);
    pump(file);
  }

  /** The message is abandoned: nothing of it stays in memory or on disk. */
  discard(): void {
    this.#release();
    this.#full = false;
  }

  /** The message is complete: its bytes after `header` (UTF-8), as one Buffer of its own; the draft is empty again. */
  take(header: string): Taken {
    if (this.#full) {
      this.#full = false;
      return { kind: 'full' };
    }
    const file = this.#file;
    if (file === null) {
      const raw = messageBytes(header, this.#lines);
      this.#release();
      return { kind: 'memory', raw };
    }
    this.#file = null; // the read-back owns the file now, and gives back what it counts
    return { kind: 'file', raw: readBack(file, header) };
  }

  #spill(): void {
    const spool = this.#spool;
    const held = this.#memory;
    if (!spool.reserveDisk(held)) return this.#drop();
    const path = spool.newPath();
    const handle = open(path, 'wx', 0o600);
    handle.catch(() => {}); // a failure is seen by the writes and the read-back
    // The bytes held move to the file's account: still in memory until written.
    this.#file = { spool, path, handle, queued: this.#lines, memory: held, disk: held, written: 0, writing: null, error: null, dropped: false };
    this.#lines = [];
    this.#memory = 0;
    pump(this.#file);
  }

  /** Past the disk budget: keep nothing more, answer 452 at the end. */
  #drop(): void {
    this.#release();
    this.#full = true;
  }

  #release(): void {
    this.#spool.memoryInUse -= this.#memory;
    this.#memory = 0;
    this.#lines = [];
    const file = this.#file;
    this.#file = null;
    if (file !== null) removeFile(file);
  }
}

/** Writes what is queued, one write at a time, giving its memory back as it goes. A failure stops the writes for good. */
function pump(file: SpillFile): void {
  if (file.writing !== null || file.dropped || file.error !== null) return;
  file.writing = (async () => {
    try {
      const fh = await file.handle;
      while (file.queued.length > 0 && !file.dropped) {
        const chunk = Buffer.from(file.queued.join(''), 'latin1');
        file.queued = [];
        let at = 0;
        while (at < chunk.length) at += (await fh.write(chunk, at, chunk.length - at, file.written + at)).bytesWritten;
        file.written += chunk.length;
        if (file.dropped) return; // removeFile gave back everything already
        file.memory -= chunk.length;
        file.spool.memoryInUse -= chunk.length;
      }
    } catch (e) {
      file.error = e instanceof Error ? e : new Error(String(e)); // the read-back says it; the message gets 451
      file.queued = [];
    } finally {
      file.writing = null;
    }
    if (file.queued.length > 0) pump(file); // queued while the last write ended
  })();
}

/** Gives back what the file counts, and removes it once it exists. */
function removeFile(file: SpillFile): void {
  if (file.dropped) return;
  file.dropped = true;
  file.queued = [];
  file.spool.memoryInUse -= file.memory;
  file.spool.diskInUse -= file.disk;
  file.memory = 0;
  file.disk = 0;
  void file.handle.then(
    (fh) => Promise.allSettled([unlink(file.path), fh.close()]),
    () => undefined, // never created
  );
}

/** Waits for the writes, reads the file back after the header, and removes it. */
async function readBack(file: SpillFile, header: string): Promise<Buffer> {
  try {
    const fh = await file.handle;
    while (file.writing !== null) await file.writing;
    if (file.error !== null) throw file.error;
    const at = Buffer.byteLength(header, 'utf8');
    const raw = Buffer.allocUnsafeSlow(at + file.written);
    raw.write(header, 0, 'utf8');
    let done = 0;
    while (done < file.written) {
      const { bytesRead } = await fh.read(raw, at + done, file.written - done, done);
      if (bytesRead === 0) throw new Error(`${file.path} ended after ${done} of ${file.written} bytes`);
      done += bytesRead;
    }
    return raw;
  } finally {
    removeFile(file);
  }
}

/**
 * The message as one Buffer of its own (not from the shared pool, so the store can move its memory to another thread
 * instead of copying it): the Received: header (UTF-8) and the streamed lines (latin1, one char a byte) written
 * straight into it, with no join before.
 */
function messageBytes(header: string, lines: readonly string[]): Buffer {
  let size = Buffer.byteLength(header, 'utf8');
  for (const line of lines) size += line.length;
  const raw = Buffer.allocUnsafeSlow(size);
  let at = raw.write(header, 0, 'utf8');
  for (const line of lines) at += raw.write(line, at, 'latin1');
  return raw;
}
