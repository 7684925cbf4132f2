// Runs SQL files the way psql would for the schemas the tests load (pg_dump output included),
// over a `pg` client: statements go as simple queries, `COPY ... FROM stdin;` blocks through
// pg-copy-streams, and an error names the file and line it came from.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';

const COPY_FROM_STDIN = /^COPY\s.+\sFROM\s+stdin;\s*$/i;

/**
 * Splits `sql` into SQL parts and pg_dump's `COPY ... FROM stdin;` blocks (data up to the `\.`
 * line). Each part keeps the 1-based line it starts at in the file.
 */
export function splitCopyBlocks(sql) {
  const lines = sql.split('\n');
  const parts = [];
  let start = 0;
  const pushSql = (end) => {
    const text = lines.slice(start, end).join('\n');
    if (text.trim()) parts.push({ kind: 'sql', text, line: start + 1 });
  };
  for (let i = 0; i < lines.length; i++) {
    if (!COPY_FROM_STDIN.test(lines[i])) continue;
    pushSql(i);
    let end = i + 1;
    while (end < lines.length && lines[end] !== '\\.') end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: COPY data without its closing \\. line`);
    const data = lines.slice(i + 1, end);
    parts.push({ kind: 'copy', text: lines[i], data: data.length ? `${data.join('\n')}\n` : '', line: i + 1 });
    start = end + 1;
    i = end;
  }
  pushSql(lines.length);
  return parts;
}

function lineOf(text, position) {
  let line = 0;
  for (let i = 0; i < Math.min(position - 1, text.length); i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Runs a whole SQL file on `client` (no transaction of its own: wrap it in begin/commit when
 * it must be atomic). `source` names the file in errors; `line` is where `sql` starts in it.
 * Errors: `<source>:<line>: <Postgres message>` with `code` (SQLSTATE) and `cause` kept.
 */
export async function runSqlScript(client, sql, { source = 'sql', line = 1 } = {}) {
  for (const part of splitCopyBlocks(sql)) {
    try {
      if (part.kind === 'sql') {
        await client.query(part.text);
      } else {
        await pipeline(Readable.from([part.data]), client.query(copyFrom(part.text)));
      }
    } catch (err) {
      const at = line - 1 + part.line + (part.kind === 'sql' && err.position ? lineOf(part.text, Number(err.position)) : 0);
      const statementLine = sql.split('\n')[at - line]?.trim().slice(0, 160);
      throw Object.assign(
        new Error(`${source}:${at}: ${err.message}${statementLine ? `\n  at: ${statementLine}` : ''}`, { cause: err }),
        { code: err.code },
      );
    }
  }
}
