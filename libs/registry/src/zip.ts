import yauzl from 'yauzl';

/**
 * The entry count and declared unzipped size of a readable zip archive whose entries all have
 * safe names (yauzl refuses absolute paths and `..`), 0 entries for an empty one; undefined for
 * anything else. Reads the central directory only, not the file data.
 */
export const inspectZip = (bytes: Uint8Array): Promise<{ entries: number; unzippedBytes: number } | undefined> =>
  new Promise((resolve) => {
    yauzl.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return resolve(undefined);
      let unzippedBytes = 0;
      zip.on('error', () => resolve(undefined));
      zip.on('entry', (entry: yauzl.Entry) => {
        unzippedBytes += entry.uncompressedSize;
        zip.readEntry();
      });
      zip.on('end', () => resolve({ entries: zip.entryCount, unzippedBytes }));
      zip.readEntry();
    });
  });

/** True when the bytes are a readable zip archive with at least one entry, all of them safe. */
export const isValidZip = async (bytes: Uint8Array): Promise<boolean> => ((await inspectZip(bytes))?.entries ?? 0) > 0;
