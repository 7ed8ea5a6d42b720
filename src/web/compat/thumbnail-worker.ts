/**
 * The thumbnail thread (see thumbnail-thread.ts): one image at a time, made as Mailpit makes it
 * (server/handlers/thumbnails.go): resized to fill 180x120 and cropped at the centre, laid on white (so transparency
 * shows white), encoded as a JPEG of quality 70. An image that will not decode is answered { ok: false, error }.
 */
import { parentPort } from 'node:worker_threads';
import { Jimp } from 'jimp';
import { serveCalls } from '../../request-channel.js';
import { THUMBNAIL_CHANNEL, type ThumbnailRequest, type ThumbnailResult } from './thumbnail-thread.js';

if (parentPort === null) throw new Error('thumbnail-worker must run as a worker thread');
const port = parentPort;

const WIDTH = 180;
const HEIGHT = 120;

async function thumbnail(image: Uint8Array): Promise<ThumbnailResult> {
  let source;
  try {
    source = await Jimp.read(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
  } catch (e) {
    return { ok: false, error: `the image cannot be decoded: ${e instanceof Error ? e.message : String(e)}` };
  }
  source.cover({ w: WIDTH, h: HEIGHT });
  const white = new Jimp({ width: WIDTH, height: HEIGHT, color: 0xffffffff });
  white.composite(source, 0, 0);
  const jpeg = await white.getBuffer('image/jpeg', { quality: 70 });
  return { ok: true, jpeg: new Uint8Array(jpeg) };
}

port.on('message', serveCalls<ThumbnailRequest>(THUMBNAIL_CHANNEL, (m) => thumbnail(m.image),
  (m, transfer) => port.postMessage(m, [...transfer]), { inOrder: true }));
