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

/** A spilled message's bytes go through blocks of this size: one filled while one is written. */
const BLOCK = 64 * 1024;
/** Full blocks waiting for the disk before the connection stops reading (see MessageDraft.backlogged). */
const BACKLOG_BLOCKS = 2;

/**
 * A spilled message's file. Its bytes are copied into fixed blocks as they come (the strings die young) and each full
 * block is written in the background, one write at a time, then reused: a spilled message holds a few blocks of
 * memory, however large it grows and however slow the disk (the connection stops reading meanwhile).
 */
type SpillFile = {
  spool: MessageSpool;
  path: string;
  handle: Promise<FileHandle>;
  /** The block being filled, and how far. */
  fill: Buffer;
  fillAt: number;
  /** Full blocks, oldest first, waiting for their write. */
  full: Buffer[];
  spare: Buffer | null;
  /** Bytes of the blocks this file holds: counted in spool.memoryInUse. */
  memory: number;
  /** Bytes counted in spool.diskInUse: the message's bytes since it spilled (written or not). */
  disk: number;
  written: number;
  writing: Promise<void> | null;
  /** A failed open or write: nothing more is written, and the message is not stored (451). */
  error: Error | null;
  dropped: boolean;
};

/**
 * One connection's message in progress (reused message after message): latin1 strings, one char a byte, as the core
 * streams them. write() never blocks; when a spilled message's writes fall behind, `backlogged` says to stop reading
 * until afterWrites() resolves.
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

  /** The disk is behind this message: read no more from its client until afterWrites(). */
  get backlogged(): boolean {
    return this.#file !== null && this.#file.full.length >= BACKLOG_BLOCKS;
  }

  /** Resolves once the full blocks queued now are written (or the writes failed, or the message was dropped). */
  afterWrites(): Promise<void> {
    return this.#file?.writing ?? Promise.resolve();
  }

  write(bytes: string): void {
    if (this.#full) return;
    const spool = this.#spool;
    const file = this.#file;
    if (file === null) {
      this.#lines.push(bytes);
      this.#memory += bytes.length;
      spool.memoryInUse += bytes.length;
      if (this.#memory > spool.spillAfterBytes || spool.overMemory()) this.#spill();
      return;
    }
    if (file.error !== null) return; // the message will get 451
    if (!spool.reserveDisk(bytes.length)) return this.#drop();
    file.disk += bytes.length;
    copyIn(file, bytes);
    if (file.full.length > 0) pump(file);
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
    const lines = this.#lines;
    const held = this.#memory;
    this.#lines = [];
    this.#memory = 0;
    spool.memoryInUse -= held;
    if (!spool.reserveDisk(held)) return this.#drop();
    const path = spool.newPath();
    const handle = open(path, 'wx+', 0o600); // read and write; fails if the name exists (never follows a link)
    handle.catch(() => {}); // a failure is seen by the writes and the read-back
    const file: SpillFile = {
      spool, path, handle, fill: Buffer.allocUnsafeSlow(BLOCK), fillAt: 0, full: [], spare: null, memory: BLOCK, disk: held,
      written: 0, writing: null, error: null, dropped: false,
    };
    spool.memoryInUse += BLOCK;
    this.#file = file;
    for (const line of lines) copyIn(file, line);
    if (file.full.length > 0) pump(file);
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

/** Copies latin1 text into the file's blocks, starting a new block as each fills. */
function copyIn(file: SpillFile, bytes: string): void {
  let from = 0;
  while (from < bytes.length) {
    if (file.fillAt === BLOCK) {
      file.full.push(file.fill);
      if (file.spare !== null) {
        file.fill = file.spare;
        file.spare = null;
      } else {
        file.fill = Buffer.allocUnsafeSlow(BLOCK);
        file.memory += BLOCK;
        file.spool.memoryInUse += BLOCK;
      }
      file.fillAt = 0;
    }
    const n = Math.min(BLOCK - file.fillAt, bytes.length - from);
    file.fill.write(from === 0 && n === bytes.length ? bytes : bytes.slice(from, from + n), file.fillAt, 'latin1');
    file.fillAt += n;
    from += n;
  }
}

/** Writes the full blocks, one write at a time, keeping one block for reuse. A failure stops the writes for good. */
function pump(file: SpillFile): void {
  if (file.writing !== null || file.dropped || file.error !== null) return;
  file.writing = (async () => {
    try {
      const fh = await file.handle;
      for (let block = file.full[0]; block !== undefined && !file.dropped; block = file.full[0]) {
        let at = 0;
        while (at < BLOCK) at += (await fh.write(block, at, BLOCK - at, file.written + at)).bytesWritten;
        file.written += BLOCK;
        file.full.shift();
        if (file.dropped) return; // removeFile gave back everything already
        if (file.spare === null) file.spare = block;
        else {
          file.memory -= BLOCK;
          file.spool.memoryInUse -= BLOCK;
        }
      }
    } catch (e) {
      file.error = e instanceof Error ? e : new Error(String(e)); // the read-back says it; the message gets 451
    } finally {
      file.writing = null;
    }
  })();
}

/** Gives back what the file counts, and removes it once it exists. */
function removeFile(file: SpillFile): void {
  if (file.dropped) return;
  file.dropped = true;
  file.full = [];
  file.spare = null;
  file.spool.memoryInUse -= file.memory;
  file.spool.diskInUse -= file.disk;
  file.memory = 0;
  file.disk = 0;
  void file.handle.then(
    (fh) => Promise.allSettled([unlink(file.path), fh.close()]),
    () => undefined, // never created
  );
}

/** Waits for the writes, reads the file back after the header, adds the last block, and removes the file. */
async function readBack(file: SpillFile, header: string): Promise<Buffer> {
  try {
    const fh = await file.handle;
    if (file.full.length > 0) pump(file);
    while (file.writing !== null) await file.writing;
    if (file.error !== null) throw file.error;
    const at = Buffer.byteLength(header, 'utf8');
    const raw = Buffer.allocUnsafeSlow(at + file.written + file.fillAt);
    raw.write(header, 0, 'utf8');
    let done = 0;
    while (done < file.written) {
      const { bytesRead } = await fh.read(raw, at + done, file.written - done, done);
      if (bytesRead === 0) throw new Error(`${file.path} ended after ${done} of ${file.written} bytes`);
      done += bytesRead;
    }
    file.fill.copy(raw, at + file.written, 0, file.fillAt);
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
