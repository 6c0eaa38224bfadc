/**
 * What the kernel does with connections when a front end pauses (closes its SO_REUSEPORT listening
 * socket): with net.ipv4.tcp_migrate_req=1 (Linux >= 5.14) the connections waiting in its queue move
 * to another listener of the port; otherwise they are reset. The autoscaler pauses a front end
 * under load only when they move (server/autoscale.ts).
 */
import * as fs from 'node:fs';

/** Whether queued connections of a closed SO_REUSEPORT listener move to another; null when unknown. */
export function reuseportMigration(): boolean | null {
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() !== '0';
  } catch {
    return null;
  }
}
