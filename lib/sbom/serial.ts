// Reproducible serial numbers: a version-4-shaped UUID derived from the document itself.
import { createHash } from 'node:crypto';

export function derivedSerial(digest: Buffer): string {
  const x = Buffer.from(digest.subarray(0, 16));
  x[6] = (x[6]! & 0x0f) | 0x40;
  x[8] = (x[8]! & 0x3f) | 0x80;
  const s = x.toString('hex');
  return `urn:uuid:${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Serialize with a serial number derived from everything else in the document: same content, same bytes. */
export function withDerivedSerial(serialize: (serial: string) => string): string {
  const placeholder = 'urn:uuid:00000000-0000-4000-8000-000000000000';
  return serialize(derivedSerial(createHash('sha256').update(serialize(placeholder)).digest()));
}
