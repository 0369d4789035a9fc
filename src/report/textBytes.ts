import { thousands } from './numbers.js';

const fillBytes = Uint8Array.prototype.fill;

/**
 * Text written as UTF-8 bytes into chunks, for output too large to build as
 * strings: a text overview of 10⁵ groups (`report --by window`) writes 7·10⁵
 * lines, 88 MB, and a string per cell and line was about a third of its time
 * (with the garbage it left). Whoever writes takes each chunk once it is
 * `ready` (every chunk is a new buffer, so chunks taken earlier stay valid).
 */
export class TextChunks {
  #buffer: Buffer;
  #at = 0;

  /** `size`: about how many bytes a chunk holds (a chunk holds at least one group's lines). */
  constructor(readonly size = 1 << 16) {
    this.#buffer = Buffer.allocUnsafe(size + 1024);
  }

  /** Whether the chunk holds `size` bytes or more (take it before writing more). */
  get ready(): boolean {
    return this.#at >= this.size;
  }

  /** Whether nothing was written since the last take. */
  get empty(): boolean {
    return this.#at === 0;
  }

  /** The bytes written since the last take; the next ones go to a new buffer. */
  take(): Uint8Array {
    const chunk = this.#buffer.subarray(0, this.#at);
    this.#buffer = Buffer.allocUnsafe(this.size + 1024);
    this.#at = 0;
    return chunk;
  }

  /** Room for `bytes` more (the buffer grows when a group's lines need it). */
  #room(bytes: number): Buffer {
    if (this.#at + bytes > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#at + bytes));
      this.#buffer.copy(grown, 0, 0, this.#at);
      this.#buffer = grown;
    }
    return this.#buffer;
  }

  byte(code: number): void {
    this.#room(1)[this.#at++] = code;
  }

  spaces(count: number): void {
    if (count <= 0) return;
    const buffer = this.#room(count);
    // A loop for the few spaces between cells; more with the typed array's own fill (Buffer's checks its arguments in JavaScript first, then calls into C++).
    if (count > 32) fillBytes.call(buffer, 32, this.#at, this.#at + count);
    else for (let k = this.#at; k < this.#at + count; k++) buffer[k] = 32;
    this.#at += count;
  }

  bytes(bytes: Uint8Array): void {
    const buffer = this.#room(bytes.length);
    // A loop for a cell's few bytes: set() is a call into C++ each time.
    if (bytes.length > 32) buffer.set(bytes, this.#at);
    else for (let k = 0; k < bytes.length; k++) buffer[this.#at + k] = bytes[k];
    this.#at += bytes.length;
  }

  /** A string, as UTF-8. */
  text(text: string): void {
    const buffer = this.#room(3 * text.length);
    let at = this.#at;
    for (let k = 0; k < text.length; k++) {
      const code = text.charCodeAt(k);
      if (code >= 0x80) {
        this.#at += buffer.write(text, this.#at, 'utf8');
        return;
      }
      buffer[at++] = code;
    }
    this.#at = at;
  }

  /** `text` right-aligned (padStart) or left-aligned (padEnd) in `width` UTF-16 units, as a table cell is padded. */
  cell(text: string, width: number, right: boolean): void {
    if (right) this.spaces(width - text.length);
    this.text(text);
    if (!right) this.spaces(width - text.length);
  }

  /**
   * `thousands(value, decimals)` right-aligned in `width` (padStart): whole
   * numbers and numbers with one decimal written digit by digit, any other
   * (and any value where that could round otherwise) as thousands prints it.
   */
  thousandsCell(value: number, decimals: 0 | 1, width: number): void {
    let scaled: number; // the value × 10^decimals, rounded as thousands rounds it
    if (!(value >= 0) || (value === 0 && 1 / value < 0) || value >= 2 ** 31) {
      this.cell(thousands(value, decimals), width, true);
      return;
    }
    if (decimals === 0) {
      if (!Number.isInteger(value)) {
        this.cell(thousands(value, decimals), width, true);
        return;
      }
      scaled = value;
    } else {
      // thousands rounds half up the shortest decimal form of the value, which lies within half an ulp of it:
      // rounding value × 10 gives the same digits unless it lies within 10⁻⁶ of a half (below 2³¹ its error
      // and that of the shortest form add up to less than 6·10⁻⁷).
      const tenfold = value * 10;
      const whole = Math.floor(tenfold);
      const fraction = tenfold - whole;
      if (Math.abs(fraction - 0.5) <= 1e-6 || tenfold >= 2 ** 31) {
        this.cell(thousands(value, decimals), width, true);
        return;
      }
      scaled = fraction > 0.5 ? whole + 1 : whole;
    }
    // The digits before the point, with a comma between thousands, then the decimal.
    // (Below 2³¹: integer arithmetic.)
    const integer = decimals === 0 ? scaled : (scaled / 10) | 0;
    let digits = 1;
    for (let rest = integer; rest >= 10; rest = (rest / 10) | 0) digits++;
    const length = digits + (((digits - 1) / 3) | 0) + (decimals === 0 ? 0 : 2);
    this.spaces(width - length);
    const buffer = this.#room(length);
    let at = this.#at + length;
    if (decimals === 1) {
      buffer[--at] = 48 + (scaled % 10);
      buffer[--at] = 46; // '.'
    }
    let rest = integer;
    for (let k = 0; k < digits; k++) {
      if (k > 0 && k % 3 === 0) buffer[--at] = 44; // ','
      const next = (rest / 10) | 0;
      buffer[--at] = 48 + rest - 10 * next;
      rest = next;
    }
    this.#at += length;
  }
}

/** Text from chunks of strings and UTF-8 bytes (a report's output, for tests and formatSelection). */
export function chunksText(chunks: Iterable<string | Uint8Array>): string {
  const parts: string[] = [];
  let bytes: Uint8Array[] = [];
  const flush = (): void => {
    if (bytes.length > 0) parts.push(Buffer.concat(bytes).toString('utf8'));
    bytes = [];
  };
  for (const chunk of chunks) {
    if (typeof chunk === 'string') {
      flush();
      parts.push(chunk);
    } else bytes.push(chunk);
  }
  flush();
  return parts.join('');
}
