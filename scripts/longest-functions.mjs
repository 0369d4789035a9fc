// The longest function of each folder of src/ (lines from its first to its last,
// closures inside it included) and the files that import bullmq: the measures
// of issue #20's redesign. `node scripts/longest-functions.mjs [--top N] [--json]`
// (--top: also the N longest functions of all, wherever they are).
import ts from 'typescript';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** A function's name as a reader finds it: the declaration's, the method's with its class, or the variable or property it is assigned to. */
function nameOf(node) {
  if (node.name !== undefined && ts.isIdentifier(node.name)) {
    const owner = node.parent !== undefined && ts.isClassLike(node.parent) && node.parent.name !== undefined ? `${node.parent.name.text}.` : '';
    return owner + node.name.text;
  }
  if (ts.isConstructorDeclaration(node)) return `${node.parent.name?.text ?? '(class)'}.constructor`;
  const parent = node.parent;
  if (parent !== undefined && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && ts.isIdentifier(parent.name)) return parent.name.text;
  return '(anonymous)';
}

const isFunction = (node) =>
  ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isConstructorDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isGetAccessorDeclaration(node);

const longest = new Map();
const all = [];
const bullmqImporters = [];
for (const path of sourceFiles(src)) {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const folder = relative(src, dirname(path)) || '.';
  const visit = (node) => {
    if (isFunction(node) && node.body !== undefined) {
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      all.push({ folder, lines, name: nameOf(node), file: relative(root, path), line: first + 1 });
      const best = longest.get(folder);
      if (best === undefined || lines > best.lines) longest.set(folder, { folder, lines, name: nameOf(node), file: relative(root, path), line: first + 1 });
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) && node.moduleSpecifier.text === 'bullmq') {
      bullmqImporters.push(relative(root, path));
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] !== undefined && ts.isStringLiteral(node.arguments[0]) && node.arguments[0].text === 'bullmq') {
      bullmqImporters.push(relative(root, path));
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

const rows = [...longest.values()].sort((a, b) => a.folder.localeCompare(b.folder));
const importers = [...new Set(bullmqImporters)].sort();
const topAt = process.argv.indexOf('--top');
const top = topAt < 0 ? [] : all.sort((a, b) => b.lines - a.lines).slice(0, Number(process.argv[topAt + 1] ?? 10));
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ longest: rows, top, bullmqImporters: importers }, null, 1)}\n`);
} else {
  const width = Math.max(...rows.map((row) => row.folder.length));
  for (const row of rows) process.stdout.write(`${row.folder.padEnd(width)}  ${String(row.lines).padStart(4)}  ${row.name} (${row.file}:${row.line})\n`);
  if (top.length > 0) process.stdout.write(`\nlongest of all:\n${top.map((row) => `${String(row.lines).padStart(4)}  ${row.name} (${row.file}:${row.line})`).join('\n')}\n`);
  process.stdout.write(`\nfiles importing bullmq: ${importers.length} (${importers.join(', ')})\n`);
}
