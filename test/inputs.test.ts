import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EnvironmentError, InputError } from '../src/errors.js';
import { fetchInputs, PINNED_INPUTS } from '../src/inputs/fetch.js';
import { loadDataWindow, loadModel, modelFileSize, parseModel, sha256 } from '../src/model/index.js';

/** `npm test` runs from the project root; the shipped inputs sit beside it. */
const SHIPPED = resolve(process.cwd(), '..', 'shared', 'inputs');

const scratch = mkdtempSync(join(tmpdir(), 'sparsetrace-inputs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
/** A fresh empty folder under the scratch folder. */
function freshFolder(): string {
  const folder = join(scratch, `f${++folders}`);
  mkdirSync(folder);
  return folder;
}

/** Runs `action`, expecting an InputError whose message matches every pattern. */
async function rejectsWith(action: () => unknown, ...patterns: RegExp[]): Promise<void> {
  await rejectsAs(InputError, action, ...patterns);
}

/** Runs `action`, expecting an error of class `kind` whose message matches every pattern. */
async function rejectsAs(kind: typeof InputError | typeof EnvironmentError, action: () => unknown, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(async () => action(), (error: unknown) => {
    assert.ok(error instanceof kind, `an ${kind.name}, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const escape = (text: string): RegExp => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

describe('fetchInputs', () => {
  const quiet = (): void => {};

  test('copies both inputs from a folder, verified, and keeps them on a second run', async () => {
    const destination = join(freshFolder(), 'not', 'yet', 'there');
    const paths = await fetchInputs({ from: SHIPPED, destination, log: quiet });
    assert.deepEqual(paths, PINNED_INPUTS.map((input) => join(destination, input.name)));
    for (const { name, sha256: pinned } of PINNED_INPUTS) {
      assert.equal(sha256(readFileSync(join(destination, name))), pinned, name);
    }
    assert.deepEqual(readdirSync(destination).sort(), PINNED_INPUTS.map((input) => input.name).sort(), 'no temporary files left');

    const lines: string[] = [];
    const again = await fetchInputs({ from: SHIPPED, destination, log: (line) => lines.push(line) });
    assert.deepEqual(again, paths);
    assert.equal(lines.length, PINNED_INPUTS.length);
    for (const line of lines) assert.match(line, /already there/);
  });

  test('replaces a corrupt copy in the destination with the verified file', async () => {
    const destination = freshFolder();
    const model = join(destination, 'sat_model.bin');
    writeFileSync(model, 'not a model');
    const lines: string[] = [];
    await fetchInputs({ from: SHIPPED, destination, log: (line) => lines.push(line) });
    assert.equal(sha256(readFileSync(model)), PINNED_INPUTS[0].sha256);
    assert.ok(lines.some((line) => line.includes('sat_model.bin') && /replaced/.test(line)), lines.join('\n'));
  });

  test('a --from folder missing a file: the error names the path looked at', async () => {
    const from = freshFolder();
    writeFileSync(join(from, 'sat_model.bin'), readFileSync(join(SHIPPED, 'sat_model.bin')));
    const missing = join(from, 'enwik_1024.txt');
    await rejectsWith(() => fetchInputs({ from, destination: freshFolder(), log: quiet }), /enwik_1024\.txt/, /not found/, escape(missing));
  });

  test('a --from file with the wrong content: hash mismatch names both sums, nothing left in the destination', async () => {
    const from = freshFolder();
    const wrong = Buffer.from('this is not the model');
    writeFileSync(join(from, 'sat_model.bin'), wrong);
    const destination = freshFolder();
    await rejectsWith(
      () => fetchInputs({ from, destination, log: quiet }),
      /sat_model\.bin/,
      escape(PINNED_INPUTS[0].sha256),
      escape(sha256(wrong)),
      /not the published file/,
    );
    assert.deepEqual(readdirSync(destination), [], 'neither the file nor a temporary copy is left');
  });

  test('--from that is a file or does not exist is an error', async () => {
    const file = join(SHIPPED, 'SHA256SUMS');
    await rejectsWith(() => fetchInputs({ from: file, destination: freshFolder(), log: quiet }), escape(file), /not a folder/);
    const nowhere = join(scratch, 'nowhere');
    await rejectsWith(() => fetchInputs({ from: nowhere, destination: freshFolder(), log: quiet }), escape(nowhere), /no such folder/);
  });

  test("a failed download is the network's doing (exit 1, not 2): it names the URL and the reason and suggests --from", async () => {
    // Port 9 on the loopback fails at once (fetch blocks it as a bad port): nothing leaves the machine.
    const baseUrl = 'http://127.0.0.1:9/';
    const destination = freshFolder();
    await rejectsAs(
      EnvironmentError,
      () => fetchInputs({ destination, baseUrl, log: quiet }),
      /sat_model\.bin/,
      escape(`${baseUrl}sat_model.bin`),
      /failed: fetch failed \(.+\)/, // the reason, from the error's cause
      /fetch-inputs --from DIR/,
    );
    assert.deepEqual(readdirSync(destination), []);
  });
});

/** Bytes of a model of hidden size H with every weight `fill`, then `patch` applied to the float32 values. */
function modelBytes(hidden: number, patch: (values: Float32Array) => void = () => {}): Uint8Array {
  const values = new Float32Array(modelFileSize(hidden) / 4).fill(0.25);
  patch(values);
  return new Uint8Array(values.buffer); // little-endian on every platform Node runs on
}

describe('model errors', () => {
  test('tiny valid models parse with the right hidden size and block lengths', () => {
    assert.equal(modelFileSize(1), 3080);
    for (const H of [1, 2]) {
      const model = parseModel(modelBytes(H), `h${H}.bin`);
      assert.equal(model.hidden, H);
      assert.deepEqual(
        [model.wx.length, model.wh.length, model.bh.length, model.wy.length, model.by.length],
        [H * 256, H * H, H, 256 * H, 256],
      );
      assert.equal(model.by[255], 0.25);
    }
  });

  test('a size that fits no H names the nearest valid sizes', () => {
    assert.throws(
      () => parseModel(new Uint8Array(329_220), 'odd.bin'),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /odd\.bin/);
        assert.match(error.message, /329,?220/);
        assert.match(error.message, /329,?216 bytes \(H = 128\)/);
        assert.match(error.message, new RegExp(`${modelFileSize(129)} bytes \\(H = 129\\)`));
        return true;
      },
    );
  });

  test('an empty model file names the smallest valid size', async () => {
    const path = join(freshFolder(), 'empty.bin');
    writeFileSync(path, '');
    await rejectsWith(() => loadModel(path), escape(path), /size 0 bytes/, /3080 bytes \(H = 1\)/);
  });

  test('NaN and infinite weights name the block and index', async () => {
    const folder = freshFolder();
    const nan = join(folder, 'nan.bin');
    writeFileSync(nan, modelBytes(3, (values) => (values[3 * 256 + 5] = NaN)));
    await rejectsWith(() => loadModel(nan), escape(nan), /wh\[5\] is NaN/);
    const infinite = join(folder, 'inf.bin');
    writeFileSync(infinite, modelBytes(3, (values) => (values[3 * 256 + 9 + 2] = Infinity)));
    await rejectsWith(() => loadModel(infinite), escape(infinite), /bh\[2\] is Infinity/);
  });

  test('a missing path or a directory is an error naming the path', async () => {
    const missing = join(scratch, 'no-model.bin');
    await rejectsWith(() => loadModel(missing), escape(missing), /no such file/, /fetch-inputs/);
    const folder = freshFolder();
    await rejectsWith(() => loadModel(folder), escape(folder), /directory/);
  });
});

describe('data window errors', () => {
  const folder = join(scratch, 'data');
  mkdirSync(folder, { recursive: true });
  const file = (name: string, contents: string): string => {
    const path = join(folder, name);
    writeFileSync(path, contents);
    return path;
  };

  test('an empty file, a one-byte file and an offset past the end are errors naming the file', async () => {
    const empty = file('empty.txt', '');
    await rejectsWith(() => loadDataWindow(empty, 0, 1024), escape(empty), /empty/, /at least 2 bytes/);
    const one = file('one.txt', 'a');
    await rejectsWith(() => loadDataWindow(one, 0, 1024), escape(one), /one byte/, /at least 2 bytes/);
    const ten = file('ten.txt', '0123456789');
    await rejectsWith(() => loadDataWindow(ten, 20, 5), escape(ten), /offset 20/, /empty/, /the file has 10 bytes/);
  });

  test('a missing path is an error naming it', async () => {
    const missing = join(folder, 'absent.txt');
    await rejectsWith(() => loadDataWindow(missing, 0, 1024), escape(missing), /no such file/);
    assert.equal(existsSync(missing), false);
  });

  test('two bytes make a window; a window longer than the file is cut short', () => {
    const two = loadDataWindow(file('two.txt', 'ab'), 0, 1024);
    assert.deepEqual([...two.bytes], [0x61, 0x62]);
    assert.equal(two.sha256, sha256(Buffer.from('ab')));
    const tail = loadDataWindow(file('ten2.txt', '0123456789'), 6, 100);
    assert.equal(tail.offset, 6);
    assert.equal(Buffer.from(tail.bytes).toString(), '6789');
  });
});
