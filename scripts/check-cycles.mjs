#!/usr/bin/env node
// Fails when source files import each other in a circle. Scans every `.ts`/`.mts` file under the `src/` of each
// workspace package (packages/*, apps/*, bench, test/*), follows its static `import … from`, `import '…'`,
// `export … from` and `import x = require(…)`, type-only ones included (a type-only cycle still ties two files
// together), and reports every strongly connected group of files with one cycle through it. Relative
// specifiers resolve `.js` to `.ts` as NodeNext does; a workspace package's name resolves through its
// "@mig/source" export condition to its source. A dynamic `import()` is left out: it loads on demand, so it
// cannot leave a module half-initialised at load time. Parsing uses the TypeScript compiler the workspace
// already has, so a specifier in a comment or a string is never mistaken for an import.
// Exits 1 with the cycles, 0 with a one-line count.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rel = (file) => relative(root, file);

/** Workspace package folders: the same globs as pnpm-workspace.yaml, plus test/* for private helpers. */
function packageDirs() {
  const children = (dir) =>
    existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((name) => join(root, dir, name)) : [];
  return [...children('packages'), ...children('apps'), join(root, 'bench'), ...children('test')].filter((dir) =>
    existsSync(join(dir, 'package.json')),
  );
}

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.m?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `@mig/x` and `@mig/x/sub` → the source file their "@mig/source" export condition names. */
function workspaceEntries(dirs) {
  const entries = new Map();
  for (const dir of dirs) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      const source = typeof target === 'object' && target !== null ? target['@mig/source'] : undefined;
      if (typeof source === 'string') entries.set(join(manifest.name, subpath), resolve(dir, source));
    }
  }
  return entries;
}

const EXTENSIONS = { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'], '.cjs': ['.cts', '.cjs'] };

function resolveRelative(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const ext = Object.keys(EXTENSIONS).find((e) => base.endsWith(e));
  const candidates = ext
    ? EXTENSIONS[ext].map((e) => base.slice(0, -ext.length) + e)
    : [base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((path) => existsSync(path) && statSync(path).isFile());
}

/** The module specifiers a file imports statically, type-only imports included. */
function specifiers(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const found = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) {
      const spec = statement.moduleSpecifier;
      if (spec && ts.isStringLiteral(spec)) found.push(spec.text);
    } else if (
      ts.isImportEqualsDeclaration(statement) &&
      ts.isExternalModuleReference(statement.moduleReference) &&
      ts.isStringLiteral(statement.moduleReference.expression)
    ) {
      found.push(statement.moduleReference.expression.text);
    }
  }
  return found;
}

function buildGraph() {
  const dirs = packageDirs();
  const entries = workspaceEntries(dirs);
  const files = dirs.flatMap((dir) => sourceFiles(join(dir, 'src')));
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const targets = new Set();
    for (const spec of specifiers(file)) {
      const target = spec.startsWith('.') ? resolveRelative(file, spec) : entries.get(spec);
      if (target && known.has(target)) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components; a group of two or more files, or a file importing itself, is a cycle. */
function cyclicGroups(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || graph.get(node).includes(node)) groups.push(group.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return groups;
}

/** One shortest cycle through the first file of a group, staying inside the group (breadth-first). */
function cycleThrough(graph, group) {
  const members = new Set(group);
  const start = group[0];
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const next of graph.get(node)) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]));
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

const graph = buildGraph();
const groups = cyclicGroups(graph);
if (groups.length === 0) {
  console.log(`check-cycles: no import cycle among ${graph.size} source files`);
} else {
  console.error(`check-cycles: ${groups.length} import cycle(s):`);
  for (const group of groups) {
    const cycle = cycleThrough(graph, group);
    console.error(`\n  ${cycle.map(rel).join('\n    → ')}`);
    if (group.length > cycle.length - 1)
      console.error(`  (${group.length} files tied together: ${group.map(rel).join(', ')})`);
  }
  process.exit(1);
}
