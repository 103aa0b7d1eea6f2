import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { CloseCodes, ErrorCodes } from '@switchboard/protocol';

import { codeSpan, tableUnder } from '../harness/markdown.ts';
import { REPO_ROOT } from '../harness/processes.ts';

const DOC = join(REPO_ROOT, 'docs', 'protocol.md');

/*
 * The rows this test reads from docs/protocol.md:
 *
 *   ## Error codes
 *   | Code | Meaning |
 *   |---|---|
 *   | `invalid_credentials` | The provided authentication credentials are invalid |
 *
 *   ## Close codes
 *   | Code | Name | Reconnect | Meaning |
 *   |---|---|---|---|
 *   | 4000 | `pingTimeout` | yes | The client missed pings |
 */
describe('docs/protocol.md', () => {
  let markdown = '';

  beforeAll(() => {
    if (!existsSync(DOC))
      throw new Error(`${DOC} is missing; it must document every error and close code`);
    markdown = readFileSync(DOC, 'utf8');
  });

  it('lists exactly the error codes of libs/protocol, each once', () => {
    const documented = tableUnder(markdown, 'Error codes').map(
      (row) => codeSpan(row[0]) ?? `unreadable: ${row.join(' | ')}`,
    );

    expect([...documented].sort()).toEqual(Object.keys(ErrorCodes).sort());
  });

  it('lists exactly the close codes of libs/protocol, with their numbers and whether to reconnect', () => {
    const documented = tableUnder(markdown, 'Close codes').map((row) => ({
      name: codeSpan(row[1]) ?? `unreadable: ${row.join(' | ')}`,
      code: Number(row[0]),
      reconnect: row[2] === 'yes' ? true : row[2] === 'no' ? false : `unreadable: ${row[2]}`,
    }));
    const defined = Object.entries(CloseCodes).map(([name, { code, reconnect }]) => ({
      name,
      code,
      reconnect,
    }));

    const byName = (a: { name: string }, b: { name: string }): number =>
      a.name.localeCompare(b.name);
    expect([...documented].sort(byName)).toEqual([...defined].sort(byName));
  });
});
