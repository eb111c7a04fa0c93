import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A service that bundles mig (esbuild, as serverless platforms do) must build without the drivers it does not
// use, and with the one it uses inside. esbuild leaves an import of a missing package alone only where the code
// handles its failure in place: `import('pkg').catch(…)`, or `await import('pkg')` directly in a `try`. A static
// import of an optional peer, or an `import()` whose failure is handled elsewhere (in a helper given
// `() => import(name)`), stops the bundler when the package is not installed. This reads the adapter's source for
// both, so a new engine hears of it here, by file and line, before a bundle fails (service/test/bundler.test.ts
// builds one for real).

const PACKAGE = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const OPTIONAL = Object.entries(manifest.peerDependenciesMeta)
  .filter(([, meta]) => meta.optional === true)
  .map(([name]) => name);

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Each place in the adapter's source that imports an optional peer in a way a bundler cannot leave out. */
function unhandledImports(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(join(PACKAGE, 'src'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const name of OPTIONAL) {
        const quoted = `['"]${escapeRegExp(name)}(?:/[^'"]*)?['"]`;
        const where = `${relative(PACKAGE, file)}:${index + 1}`;
        if (new RegExp(`^\\s*import\\s+(?!type\\b)[^;]*\\bfrom\\s+${quoted}`).test(line)) {
          found.push(
            `${where} imports "${name}" statically: import it where it is needed, as import('${name}').catch(missingDriver('${name}'))`,
          );
        }
        for (const match of line.matchAll(new RegExp(`(?<!typeof\\s+)import\\(${quoted}\\)(\\s*\\.catch\\()?`, 'g'))) {
          const inTry = /\btry\s*\{\s*$/.test(lines[index - 1] ?? '') && /\bawait\s+import\(/.test(line);
          if (match[1] === undefined && !inTry) {
            found.push(
              `${where} imports "${name}" without handling its failure in place: write import('${name}').catch(missingDriver('${name}'))`,
            );
          }
        }
      }
    });
  }
  return found;
}

describe("the adapter's imports of optional drivers", () => {
  it('are all handled in place, so a bundler builds without the drivers that are not installed', () => {
    expect(OPTIONAL).toEqual(
      expect.arrayContaining(['pg', 'mysql2', 'better-sqlite3', '@electric-sql/pglite', 'jiti']),
    );
    expect(unhandledImports()).toEqual([]);
  });
});
