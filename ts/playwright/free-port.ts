/** A free TCP port, found synchronously: Playwright reads config files synchronously. */
import { execFileSync } from 'node:child_process';

/** A TCP port that was free a moment ago. */
export function freePortSync(): number {
  const out = execFileSync(process.execPath, [
    '-e',
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
  ]);
  return Number(String(out).trim());
}
