/**
 * Bad input: a file, flag or job field the user gave that cannot be used. The
 * message names the input and what is wrong; the CLI prints it and exits 2.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
}
