import * as zlib from 'node:zlib';

// CRC-32 (the gzip/zlib polynomial, reflected), as the gzip trailer holds it.
const POLYNOMIAL = 0xedb88320;

// node:zlib has a native crc32 from Node 20.15 / 22.2; older versions get the table below.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;

function byteTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it). */
export function crc32(data: Uint8Array, value = 0): number {
  if (nativeCrc32) return nativeCrc32(data, value) >>> 0;
  const t = byteTable();
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// a * b modulo the CRC polynomial, both as reflected 32-bit polynomials (zlib's multmodp).
function multiplyModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLYNOMIAL : b >>> 1;
  }
  return p >>> 0;
}

// x^(2^k) modulo P for k = 0..31, so x^(8n) mod P takes one multiplication per bit of n.
const X2N: number[] = [];
{
  let p = 0x40000000; // x^1, reflected
  X2N.push(p);
  for (let k = 1; k < 32; k++) X2N.push((p = multiplyModP(p, p)));
}

/** x^(8 * bytes) modulo P: the operator that shifts a CRC over `bytes` zero bytes. */
function shiftOperator(bytes: number): number {
  let p = 0x80000000;
  let k = 3; // 8 bits per byte
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2) p = multiplyModP(X2N[k & 31]!, p);
  }
  return p;
}

/** The CRC-32 of A followed by B, given crc(A), crc(B) and B's length (zlib's crc32_combine). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(shiftOperator(lengthB), crcA) ^ crcB) >>> 0;
}
