/**
 * SQL expressions that unpack the store's BLOBs with SQLite's built-in
 * functions only (json_each, unicode, substr, instr, hex, zeroblob): the views
 * of schema.ts are made of them, so the `sqlite3` shell, Python's sqlite3 and
 * any other client read every documented view with no function of ours.
 */

/**
 * SQL that reads element `index` (0-based, an SQL expression) of the code point
 * array `blob` of `length` elements, with SQLite's built-ins only: the views'
 * decoder, and the one docs/schema.md shows.
 */
export function codePointSql(blob: string, length: string, index: string): string {
  const width = `(length(${blob}) / (${length}))`;
  const cp = `unicode(substr(${blob}, (${index}) * ${width} + 1, ${width}))`;
  return `(${cp} - CASE ${width} WHEN 1 THEN 1 WHEN 2 THEN 128 WHEN 3 THEN CASE WHEN ${cp} > 57343 THEN 4096 ELSE 2048 END WHEN 4 THEN 65536 WHEN 5 THEN 1114112 ELSE 67108864 END)`;
}

/**
 * A table-valued source of the integers 0 … length − 1 as `key`, from SQLite's
 * built-ins (json_each over a JSON array of `length` zeros), so a view can give
 * one row per element of an array.
 */
export function sequenceSql(length: string): string {
  return `json_each('[' || substr(replace(hex(zeroblob(${length})), '00', '0,'), 1, 2 * (${length}) - 1) || ']')`;
}

/** SQL for 2^k as a REAL, exact, for an integer expression k in −149 … 104 (built from 1 << j, j ≤ 62). */
function powerOfTwoSql(k: string): string {
  const up = `(1 << min(max(${k}, 0), 62)) * 1.0 * (1 << min(max(${k} - 62, 0), 62))`;
  const down = `(1 << min(max(-(${k}), 0), 62)) * 1.0 * (1 << min(max(-(${k}) - 62, 0), 62)) * (1 << min(max(-(${k}) - 124, 0), 62))`;
  return `(${up} / (${down}))`;
}

/**
 * SQL for the float32 whose bits are the integer expression `bits`, as the REAL
 * that holds it exactly (attributions are ≥ 0: the sign bit is ignored). An
 * infinity reads as 9e999, a NaN as NULL.
 */
function float32FromBitsSql(bits: string): string {
  const exponent = `((${bits} >> 23) & 255)`;
  const mantissa = `(${bits} & 8388607)`;
  return `(CASE ${exponent} WHEN 255 THEN CASE ${mantissa} WHEN 0 THEN 9e999 END
    WHEN 0 THEN ${mantissa} * ${powerOfTwoSql('-149')}
    ELSE (${mantissa} + 8388608) * ${powerOfTwoSql(`${exponent} - 150`)} END)`;
}

/**
 * SQL for element `index` of a BLOB of little-endian float32 (`pattern_peak_rows.peaks`),
 * exactly: its four bytes as hex, read nibble by nibble into the bits, then the
 * value from them, each step once (nested scalar subqueries).
 */
export function float32Sql(blob: string, index: string): string {
  const hex = `hex(substr(${blob}, 4 * (${index}) + 1, 4))`;
  // Byte k is hex digits 2k + 1 (its high nibble) and 2k + 2 (its low one).
  const nibble = (at: number) => `(instr('123456789ABCDEF', substr(h, ${at}, 1)) << ${at % 2 === 1 ? 4 * at : 4 * (at - 2)})`;
  const bits = [1, 2, 3, 4, 5, 6, 7, 8].map(nibble).join(' + ');
  return `(SELECT ${float32FromBitsSql('bits')} FROM (SELECT ${bits} AS bits FROM (SELECT ${hex} AS h)))`;
}
