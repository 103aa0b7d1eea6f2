/**
 * Reads the rows of the first table under a heading of a Markdown document, as arrays of
 * trimmed cells; the header row and the `|---|` separator row are left out.
 */
export function tableUnder(markdown: string, heading: string): string[][] {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((line) => new RegExp(`^#{1,6}\\s+${heading}\\s*$`, 'i').test(line));
  if (start === -1) throw new Error(`no heading "${heading}"`);

  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    const isRow = line.trim().startsWith('|');
    if (!isRow && rows.length > 0) break;
    if (!isRow && /^#{1,6}\s/.test(line)) break;
    if (isRow) rows.push(cells(line));
  }
  if (rows.length === 0) throw new Error(`no table under "${heading}"`);
  return rows.slice(1).filter((row) => !row.every((cell) => /^:?-+:?$/.test(cell)));
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** The text between backticks of a cell such as "`invalid_credentials`", or undefined. */
export function codeSpan(cell: string | undefined): string | undefined {
  return /^`([^`]+)`$/.exec(cell ?? '')?.[1];
}
