/**
 * What Mailpit's /part/{PartID}/thumb answers for an attachment that is not an image: a blank (white) 180×120 JPEG.
 * Made once with a browser canvas (toDataURL('image/jpeg', 0.7), Mailpit's quality 70) and kept here as bytes.
 */
export const BLANK_THUMBNAIL: Buffer = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDAAoHBwgHBgoICAgLCgoLDhgQDg0NDh0VFhEYIx8lJCIfIiEmKzcvJik0KSEiMEExNDk7Pj4+JS5ESUM8SDc9Pjv/2wBDAQoLCw4NDhwQEBw7KCIoOzs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozs7Ozv/wAARCAB4ALQDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/ALMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD/2Q==',
  'base64',
);

/** The largest image part a thumbnail is made of (its decoded bytes), and the most pixels its header may declare. */
export const MAX_THUMBNAIL_SOURCE_BYTES = 10 * 2 ** 20;
export const MAX_THUMBNAIL_SOURCE_PIXELS = 40_000_000;

export type ImageHeader = Readonly<{ format: 'png' | 'jpeg' | 'gif' | 'bmp'; width: number; height: number }>;

/**
 * The format and pixel size an image's header declares (PNG's IHDR, a JPEG's first SOFn, GIF's screen, BMP's info
 * header), read without decoding it, or null when it is none of those four or its header is cut short. Linear in the
 * bytes it walks (a JPEG's segments up to its SOF), never more than the image.
 */
export function imageHeader(b: Buffer): ImageHeader | null {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a && b.toString('latin1', 12, 16) === 'IHDR') {
    return { format: 'png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 10 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) {
    return { format: 'gif', width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 26 && b.toString('latin1', 0, 2) === 'BM') {
    return { format: 'bmp', width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 4 <= b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1]!;
      if (marker === 0xff) { i += 1; continue; } // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length
      const length = b.readUInt16BE(i + 2);
      // SOF0..SOF15 but DHT (c4), JPG (c8) and DAC (cc): precision, height, width.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return i + 9 <= b.length ? { format: 'jpeg', width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) } : null;
      }
      if (marker === 0xda || length < 2) return null; // scan data before any frame header
      i += 2 + length;
    }
    return null;
  }
  return null;
}

/** Why an image part gets no thumbnail (too large, not an image this reads), or null when one may be made of it. */
export function thumbnailRefusal(b: Buffer): string | null {
  if (b.length > MAX_THUMBNAIL_SOURCE_BYTES) {
    return `the image is ${b.length} bytes, over the ${MAX_THUMBNAIL_SOURCE_BYTES} bytes a thumbnail is made of: download the part itself instead`;
  }
  const h = imageHeader(b);
  if (h === null) return 'the image is not a PNG, JPEG, GIF or BMP this can read the size of: download the part itself instead';
  if (h.width === 0 || h.height === 0) return `the image's header says it is ${h.width}x${h.height} pixels: it has nothing to show`;
  if (h.width * h.height > MAX_THUMBNAIL_SOURCE_PIXELS) {
    return `the image's header says it is ${h.width}x${h.height} pixels, over the ${MAX_THUMBNAIL_SOURCE_PIXELS} a thumbnail is made of: download the part itself instead`;
  }
  return null;
}
