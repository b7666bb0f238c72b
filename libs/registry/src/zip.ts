import yauzl from 'yauzl';

/**
 * True when the bytes are a readable zip archive whose entries all have safe names (yauzl
 * refuses absolute paths and `..`). Reads the central directory only, not the file data.
 */
export const isValidZip = (bytes: Uint8Array): Promise<boolean> =>
  new Promise((resolve) => {
    yauzl.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return resolve(false);
      zip.on('error', () => resolve(false));
      zip.on('entry', () => zip.readEntry());
      zip.on('end', () => resolve(zip.entryCount > 0));
      zip.readEntry();
    });
  });
